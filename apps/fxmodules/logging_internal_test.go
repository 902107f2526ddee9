package fxmodules

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/apps/config"
)

// syncBuffer is an io.Writer whose content can be read while it is written.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestBufferedLoggerWritesInfoLaterInOneWrite(t *testing.T) {
	var out syncBuffer
	log, _ := newBufferedLogger(testConfig(t), &out)
	for i := range 3 {
		log.Info("request", "n", i)
	}
	if got := out.String(); got != "" {
		t.Fatalf("info records written at once: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := out.String()
	for i := range 3 {
		if !strings.Contains(got, fmt.Sprintf("msg=request n=%d\n", i)) {
			t.Errorf("record %d missing after the flush delay: %q", i, got)
		}
	}
	if out.writes != 1 {
		t.Errorf("%d writes, want the 3 records in 1", out.writes)
	}
}

func TestBufferedLoggerWritesWarningsAtOnceAfterEarlierRecords(t *testing.T) {
	var out syncBuffer
	log, _ := newBufferedLogger(testConfig(t), &out)
	log.Info("before")
	log.With("component", "x").WithGroup("g").Warn("problem", "k", "v")
	got := out.String()
	before, problem := strings.Index(got, "msg=before"), strings.Index(got, "msg=problem component=x g.k=v")
	if before < 0 || problem < before {
		t.Errorf("a warning must write out everything up to it, in order: %q", got)
	}
	log.Error("failed")
	if !strings.Contains(out.String(), "msg=failed") {
		t.Errorf("error not written at once: %q", out.String())
	}
}

func TestBufferedLoggerFlush(t *testing.T) {
	var out syncBuffer
	log, flush := newBufferedLogger(testConfig(t), &out)
	log.Info("last words")
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "msg=\"last words\"") {
		t.Errorf("flush did not write the buffer: %q", out.String())
	}
	if err := flush(); err != nil || out.writes != 1 {
		t.Errorf("flushing an empty buffer: err %v, %d writes", err, out.writes)
	}
}

func TestLogBufferBounds(t *testing.T) {
	var out syncBuffer
	b := newLogBuffer(&out)
	line := []byte(strings.Repeat("x", logBufferSize/2-1) + "\n") // two fill the buffer
	for range 2 {
		if _, err := b.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 0 {
		t.Fatalf("%d writes before the buffer was full", out.writes)
	}
	if _, err := b.Write(line); err != nil { // does not fit: the first two go out
		t.Fatal(err)
	}
	if out.writes != 1 || out.b.Len() != 2*len(line) {
		t.Errorf("full buffer: %d writes of %d bytes, want 1 of %d", out.writes, out.b.Len(), 2*len(line))
	}
	huge := []byte(strings.Repeat("y", logBufferSize+1))
	if _, err := b.Write(huge); err != nil {
		t.Fatal(err)
	}
	if out.writes != 3 || !strings.HasSuffix(out.String(), string(huge)) {
		t.Errorf("a record larger than the buffer must follow the buffered one straight through: %d writes", out.writes)
	}
}

func TestBufferedLoggerConcurrent(t *testing.T) {
	var out syncBuffer
	log, flush := newBufferedLogger(testConfig(t), &out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("request", "g", g, "i", i)
				if i%100 == 0 {
					_ = flush()
				}
			}
		})
	}
	wg.Wait()
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || !strings.Contains(l, "msg=request g=") {
			t.Fatalf("torn line %q", l)
		}
	}
}
