//go:build unix

package mysqlstore

import (
	"syscall"
	"time"
)

// benchProcessCPU returns the CPU time (user + system) this process used.
func benchProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
