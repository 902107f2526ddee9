package porttest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

var idGen struct {
	mu   sync.Mutex
	last uint64 // 48-bit ms << 12 | 12-bit counter
}

// NewID returns a UUIDv7 made with the standard library only. Ids from one
// process sort in creation order (a counter keeps order within a millisecond),
// like the ids the real ports.IDs adapter makes.
func NewID() string {
	idGen.mu.Lock()
	ts := uint64(time.Now().UnixMilli()) << 12
	if ts <= idGen.last {
		ts = idGen.last + 1
	}
	idGen.last = ts
	idGen.mu.Unlock()

	var b [16]byte
	_, _ = rand.Read(b[8:])
	ms, seq := ts>>12, ts&0xfff
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	binary.BigEndian.PutUint16(b[6:], uint16(0x7000|seq))
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
