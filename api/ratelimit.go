package api

import (
	"sync"

	"golang.org/x/time/rate"
)

// Default rate limit of a principal: a token bucket of DefaultRateBurst
// requests refilled at DefaultRate a second (the order of AWS's own quotas:
// 1,000 PutSnapshotBlock requests a second per account).
const (
	DefaultRate      = 1000
	DefaultRateBurst = 2000
)

// rateLimits is one token bucket per principal (ARN), shared by the unix
// socket and the AWS endpoint: a principal's rate is the same whichever
// front end it calls. Only authenticated principals get a bucket (the
// endpoint's access-key users, the socket's unix users and root), so there
// are at most as many as users.
type rateLimits struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

func newRateLimits(perSecond float64, burst int) *rateLimits {
	if perSecond <= 0 {
		perSecond = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	return &rateLimits{limit: rate.Limit(perSecond), burst: burst, by: map[string]*rate.Limiter{}}
}

// allow takes a token from principal's bucket, if it has one.
func (l *rateLimits) allow(principal string) bool {
	l.mu.Lock()
	lim, ok := l.by[principal]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.by[principal] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}
