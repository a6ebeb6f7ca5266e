// Package testenv tells a developer, where go test hides it, that tests were
// skipped because a program they need is missing.
//
// go test prints nothing but "ok" for a passing package, so a t.Skip is
// visible only with -v. A package whose tests need an external program
// (redis-server) calls AnnounceMissing from its TestMain: when the program is
// missing and CI is not "true" (under CI=true the tests themselves fail), the
// notice is written to the terminal the tests were started from, and to
// standard error for -v and failed runs.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
)

// AnnounceMissing reports whether program is missing from PATH and, when it
// is and CI is not "true", writes notice (which should say what is skipped
// and how to install the program) to the controlling terminal, if any, and
// to standard error.
func AnnounceMissing(program, notice string) bool {
	if _, err := exec.LookPath(program); err == nil {
		return false
	}
	if os.Getenv("CI") == "true" {
		return true // the tests fail by themselves
	}
	line := fmt.Sprintf("\n*** %s is not on PATH: %s\n\n", program, notice)
	fmt.Fprint(os.Stderr, line)
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprint(tty, line)
		tty.Close()
	}
	return true
}
