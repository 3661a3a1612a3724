package ui

import "time"

// RateMeter measures a recent rate: the bytes counted in the last few
// seconds. It is used by one goroutine at a time (the progress feed's).
type RateMeter struct {
	samples []rateSample
}

type rateSample struct {
	t time.Time
	n int64
}

// rateWindow is how far back a RateMeter looks.
const rateWindow = 3 * time.Second

// RateAndETA adds the sample (now, done) and returns the recent rate and
// the time left for the rest of total at that rate (-1 when unknown: no
// bytes counted lately).
func (m *RateMeter) RateAndETA(now time.Time, done, total int64) (float64, time.Duration) {
	m.samples = append(m.samples, rateSample{now, done})
	for len(m.samples) > 2 && now.Sub(m.samples[1].t) >= rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	dt := now.Sub(first.t)
	if dt <= 0 || done <= first.n {
		return 0, -1
	}
	rate := float64(done-first.n) / dt.Seconds()
	return rate, time.Duration(float64(max(total-done, 0)) / rate * float64(time.Second))
}
