package report

import "time"

// maxSamples bounds the points of the throughput chart: when full, every
// other point goes and the interval between points doubles, so a run of
// any length keeps at most this many.
const maxSamples = 512

type sample struct {
	t     time.Time
	bytes int64
}

// samples are (time, bytes moved so far) points, at least every apart.
type samples struct {
	pts   []sample
	every time.Duration
}

func (s *samples) add(t time.Time, bytes int64) {
	if s.every == 0 {
		s.every = time.Second
	}
	if n := len(s.pts); n > 0 {
		if bytes < s.pts[n-1].bytes {
			bytes = s.pts[n-1].bytes
		}
		if n > 1 && t.Sub(s.pts[n-2].t) < s.every {
			s.pts[n-1] = sample{t, bytes} // the newest point moves forward
			return
		}
	}
	s.pts = append(s.pts, sample{t, bytes})
	if len(s.pts) >= maxSamples {
		kept := s.pts[:0]
		for i, p := range s.pts {
			if i%2 == 0 || i == len(s.pts)-1 {
				kept = append(kept, p)
			}
		}
		s.pts = kept
		s.every *= 2
	}
}

// rates returns, for each interval between points, its end (seconds since
// the first point) and the throughput over it in bytes per second.
func (s *samples) rates() (at, rate []float64) {
	for i := 1; i < len(s.pts); i++ {
		dt := s.pts[i].t.Sub(s.pts[i-1].t).Seconds()
		if dt <= 0 {
			continue
		}
		at = append(at, s.pts[i].t.Sub(s.pts[0].t).Seconds())
		rate = append(rate, float64(s.pts[i].bytes-s.pts[i-1].bytes)/dt)
	}
	return at, rate
}
