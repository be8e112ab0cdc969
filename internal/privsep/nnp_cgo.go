//go:build linux && cgo

package privsep

/*
#include <stdlib.h>
#include <sys/prctl.h>

// Runs before main, hence before the Go runtime creates its threads: every thread of the
// process inherits no_new_privs. Only when a run user is configured, so that importing
// the package changes nothing for anyone else. no_new_privs only stops execve from
// granting privileges (setuid binaries, file capabilities); root keeps its own.
__attribute__((constructor)) static void flashstor_privsep_no_new_privs(void) {
	const char *user = getenv("FLASHSTORE_RUN_USER");
	if (user != NULL && user[0] != '\0') {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	}
}
*/
import "C"

// cgoConstructor reports that the C constructor above is linked in.
const cgoConstructor = true
