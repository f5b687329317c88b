// maddy's S3 write path, rebuilt on the real minio-go, for blobedu/servers/maddy_real.py.
//
// What it copies from foxcpp/maddy v0.9.4 (line numbers at that tag):
//
//   - the client: minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""),
//     Secure: false, Region: ""}) (internal/storage/blob/s3/s3.go:84,89-93);
//   - the write: Store.Create opens an io.Pipe and a goroutine runs
//     s.cl.PutObject(ctx, bucket, prefix+key, pr, blobSize, minio.PutObjectOptions{PartSize: 0}); an
//     error closes the reader with fmt.Errorf("s3 PutObject: %w", err) and goes to errCh
//     (s3.go:145-172); Sync closes the writer and returns <-errCh (s3.go:116-130); the context is
//     context.TODO() (internal/storage/imapsql/external_blob_store.go);
//   - the reply: Endpoint.wrapErr (internal/endpoint/smtp/session.go:572-621): 451 4.4.5 "High load,
//     try again later" for context.DeadlineExceeded, else 554 with no enhanced code and "Internal
//     server error", 451 if exterrors.IsTemporary(err) (framework/exterrors/temporary.go:41-49), then
//     " (msg ID = ID)"; go-smtp writes an unset enhanced code as X.0.0.
//
// The one thing added: the transport minio-go would build anyway (minio.DefaultTransport(false),
// transport.go) is wrapped in a RoundTripper that records each attempt (start, end, body bytes
// read, result) without changing it.  Output: one JSON object on stdout.
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build (Debian's golang-go and
// golang-github-minio-minio-go-v7-dev; no module download).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

var t0 = time.Now()

func since() float64 { return time.Since(t0).Seconds() }

type attempt struct {
	Method    string  `json:"method"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	BodyBytes int64   `json:"body_bytes"`
	Result    string  `json:"result"`
}

type recorder struct {
	base     http.RoundTripper
	mu       sync.Mutex
	on       bool
	attempts []attempt
}

type countingBody struct {
	r io.ReadCloser
	n *int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c countingBody) Close() error { return c.r.Close() }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	a := attempt{Method: req.Method, Start: since()}
	var n int64
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = countingBody{req.Body, &n}
	}
	res, err := r.base.RoundTrip(req)
	a.End = since()
	a.BodyBytes = n
	if err != nil {
		a.Result = "error: " + err.Error()
	} else {
		a.Result = fmt.Sprintf("HTTP %d", res.StatusCode)
	}
	r.mu.Lock()
	if r.on {
		r.attempts = append(r.attempts, a)
	}
	r.mu.Unlock()
	return res, err
}

type link struct {
	Type      string `json:"type"`
	Temporary *bool  `json:"temporary"`
	Text      string `json:"text"`
}

// chain lists every error errors.Unwrap reaches, and what Temporary() says where it exists.
func chain(err error) []link {
	var out []link
	for err != nil {
		l := link{Type: reflect.TypeOf(err).String(), Text: err.Error()}
		if t, ok := err.(interface{ Temporary() bool }); ok {
			v := t.Temporary()
			l.Temporary = &v
		}
		out = append(out, l)
		err = errors.Unwrap(err)
	}
	return out
}

// isTemporary is exterrors.IsTemporary (framework/exterrors/temporary.go:41-49@v0.9.4).
func isTemporary(err error) bool {
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) {
		return temp.Temporary()
	}
	return false
}

// reply is Endpoint.wrapErr (session.go:572-621@v0.9.4) as go-smtp prints it.
func reply(err error, msgID string) string {
	if err == nil {
		return "250 2.0.0 OK: queued"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "451 4.4.5 High load, try again later"
	}
	code := 554
	if isTemporary(err) {
		code = 451
	}
	// EnhancedCodeNotSet: go-smtp writes the class digit of the code, then .0.0
	return fmt.Sprintf("%d %d.0.0 Internal server error (msg ID = %s)", code, code/100, msgID)
}

func main() {
	endpoint := flag.String("endpoint", "", "host:port of the S3 API")
	bucket := flag.String("bucket", "", "bucket")
	key := flag.String("key", "maddy-harness-blob", "object key")
	size := flag.Int("size", 65536, "body size in bytes")
	msgID := flag.String("msg-id", "0123456789abcdef", "the msg ID wrapErr appends")
	warm := flag.Bool("warm", true, "store one object first, then wait for a line on stdin before the write")
	flag.Parse()

	rec := &recorder{}
	base, err := minio.DefaultTransport(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rec.base = base
	cl, err := minio.New(*endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4("blobedu-fake-key", "blobedu-fake-secret", ""),
		Secure:    false,
		Region:    "",
		Transport: rec,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx := context.TODO()
	if *warm {
		// an earlier delivery: maddy has been running, so minio-go's bucket-location cache is warm
		// (with Region "" a cold client first sends GET ?location, bucket-cache.go getBucketLocation)
		w := bytes.Repeat([]byte("w"), 100)
		if _, err := cl.PutObject(ctx, *bucket, *key+"-earlier", bytes.NewReader(w), int64(len(w)),
			minio.PutObjectOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "warm-up failed:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "READY")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			os.Exit(2)
		}
	}
	t0 = time.Now()
	rec.mu.Lock()
	rec.on = true
	rec.mu.Unlock()

	// Store.Create (s3.go:145-172)
	pr, pw := io.Pipe()
	errCh := make(chan error, 1)
	var putReturned float64
	go func() {
		_, err := cl.PutObject(ctx, *bucket, *key, pr, int64(*size), minio.PutObjectOptions{PartSize: 0})
		putReturned = since()
		if err != nil {
			if err := pr.CloseWithError(fmt.Errorf("s3 PutObject: %w", err)); err != nil {
				panic(err)
			}
		}
		errCh <- err
	}()

	// the delivery writes the body into the blob, then Sync (s3.go:116-130)
	body := bytes.Repeat([]byte("x"), *size)
	_, writeErr := io.Copy(pw, bytes.NewReader(body))
	var syncErr error
	if err := pw.Close(); err != nil {
		syncErr = err
	} else {
		syncErr = <-errCh
	}
	final := writeErr
	if final == nil {
		final = syncErr
	}
	// a failed write returns the pipe's error, "s3 PutObject: %w"; Sync returns the bare minio error
	// (s3.go:129 returns <-b.errCh, which PutObject's goroutine filled with err, not the wrapped one)
	out := map[string]interface{}{
		"go":           runtime.Version(),
		"size":         *size,
		"attempts":     rec.attempts,
		"put_returned": putReturned,
		"write_error":  errText(writeErr),
		"sync_error":   errText(syncErr),
		"chain":        chain(final),
		"temporary":    isTemporary(final),
		"reply":        reply(final, *msgID),
		"elapsed":      since(),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		os.Exit(2)
	}
}

func errText(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
