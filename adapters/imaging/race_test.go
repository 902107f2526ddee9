//go:build race

package imaging

const raceEnabled = true
