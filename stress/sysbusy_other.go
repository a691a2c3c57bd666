//go:build !linux

package stress

import "time"

// systemBusy is not implemented on this platform: Result.OtherCPU stays
// unknown (-1).
func systemBusy() (time.Duration, bool) { return 0, false }
