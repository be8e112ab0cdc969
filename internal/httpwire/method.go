package httpwire

// Methods the parser knows. Method strings returned by ParseHead are these constants, so
// parsing a method never allocates. CONNECT is absent on purpose: a storage endpoint is not
// a proxy, and its authority-form target is a smuggling vector we do not need.
const (
	MethodGet     = "GET"
	MethodHead    = "HEAD"
	MethodPost    = "POST"
	MethodPut     = "PUT"
	MethodDelete  = "DELETE"
	MethodOptions = "OPTIONS"
	MethodPatch   = "PATCH"
	MethodTrace   = "TRACE"
)

var methods = [...]string{
	MethodGet, MethodHead, MethodPost, MethodPut, MethodDelete, MethodOptions, MethodPatch, MethodTrace,
}

// LookupMethod returns the method constant equal to b (case-sensitive, as RFC 9110 §9.1
// says), or "" when b is not in the table.
func LookupMethod(b []byte) string {
	for _, m := range methods {
		if string(b) == m {
			return m
		}
	}
	return ""
}
