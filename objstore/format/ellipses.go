package format

import (
	"fmt"
	"regexp"
	"strconv"
)

// ellipsis matches one "{a...b}" range.
var ellipsis = regexp.MustCompile(`\{(\d+)\.\.\.(\d+)\}`)

// maxExpansion bounds how many drives one argument may expand to.
const maxExpansion = 4096

// Expand expands every "{a...b}" range in the arguments, in order: "/d{1...4}" is /d1 to /d4,
// "/d{01...16}" keeps the width of a zero-padded start, and several ranges in one argument
// expand to every combination, the last range varying fastest.
func Expand(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		exp, err := expandOne(arg)
		if err != nil {
			return nil, err
		}
		out = append(out, exp...)
	}
	return out, nil
}

func expandOne(arg string) ([]string, error) {
	loc := ellipsis.FindStringSubmatchIndex(arg)
	if loc == nil {
		return []string{arg}, nil
	}
	lo, hi := arg[loc[2]:loc[3]], arg[loc[4]:loc[5]]
	start, err1 := strconv.Atoi(lo)
	end, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || end < start || end-start >= maxExpansion {
		return nil, fmt.Errorf("bad range {%s...%s} in %q", lo, hi, arg)
	}
	width := 0
	if len(lo) > 1 && lo[0] == '0' {
		width = len(lo)
	}
	rest, err := expandOne(arg[loc[1]:])
	if err != nil {
		return nil, err
	}
	var out []string
	for i := start; i <= end; i++ {
		for _, r := range rest {
			out = append(out, fmt.Sprintf("%s%0*d%s", arg[:loc[0]], width, i, r))
			if len(out) > maxExpansion {
				return nil, fmt.Errorf("%q expands to more than %d drives", arg, maxExpansion)
			}
		}
	}
	return out, nil
}

// SetSize chooses how many drives form one erasure set for n drives: all of them up to 16,
// else the largest size from 16 down to 2 that divides n evenly.
func SetSize(n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("no drives")
	}
	if n <= 16 {
		return n, nil
	}
	for size := 16; size >= 2; size-- {
		if n%size == 0 {
			return size, nil
		}
	}
	return 0, fmt.Errorf("%d drives cannot be split into erasure sets of 2 to 16 drives of equal size", n)
}

// DefaultParity is the parity a set of n drives gets unless told otherwise: none for one
// drive, then about a third of the drives, at most 4.
func DefaultParity(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 3:
		return 1
	case n <= 5:
		return 2
	case n <= 7:
		return 3
	default:
		return 4
	}
}
