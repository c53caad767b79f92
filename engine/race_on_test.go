//go:build race

package engine

// raceEnabled slows timing-sensitive tests down to the race detector's pace.
const raceEnabled = true
