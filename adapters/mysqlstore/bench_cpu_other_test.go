//go:build !unix

package mysqlstore

import "time"

// benchProcessCPU is not measured on this platform (the metric reads 0).
func benchProcessCPU() time.Duration { return 0 }
