//go:build unix

package fapiao

import (
	"syscall"
	"time"
)

// processCPU returns the user plus system CPU time of this process: on a
// loaded machine a steadier measure of work per operation than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
