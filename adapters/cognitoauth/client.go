package cognitoauth

import (
	"context"
	"sync"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// lazyClient builds the SDK client on first use, so constructors do no
// I/O; a failed build is retried by the next call.
type lazyClient struct {
	build func(ctx context.Context) (*cip.Client, error)

	mu sync.Mutex
	c  *cip.Client
}

func (l *lazyClient) get(ctx context.Context) (*cip.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	c, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}
