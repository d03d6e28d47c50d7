package apiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/transport/auth"
)

// SignatureHeader carries the signature of Rotor's calls to auth_url,
// publish_hook_url and events_hook_url.
const SignatureHeader = auth.SignatureHeader

// TimestampHeader carries the Unix time (seconds) a call was signed at;
// the signature covers "<timestamp>.<raw body>".
const TimestampHeader = auth.TimestampHeader

// MaxWebhookBody bounds the body VerifyWebhook reads: an events batch of
// 100 events with the largest publications fits.
const MaxWebhookBody = 16 << 20

// DefaultWebhookTolerance is how far a call's timestamp may be from the
// verifier's clock, either way, when WebhookVerifier.Tolerance is 0.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrBadSignature is returned for a webhook call whose signature does not
// match the project secret. Answer 401.
var ErrBadSignature = errors.New("apiclient: bad webhook signature")

// ErrStaleWebhook is returned for a correctly signed call whose timestamp
// is outside the tolerance: a replay, or a clock far off. It wraps
// ErrBadSignature, so errors.Is(err, ErrBadSignature) holds for both.
var ErrStaleWebhook = fmt.Errorf("%w: timestamp outside the tolerance", ErrBadSignature)

// WebhookVerifier checks calls from Rotor with a policy; its zero value
// with a Secret is what VerifyWebhook and VerifySignature use.
type WebhookVerifier struct {
	// Secret is the project secret. Required.
	Secret []byte
	// Tolerance is the largest accepted distance between the call's
	// timestamp and now, either way; 0 means DefaultWebhookTolerance.
	Tolerance time.Duration
	// AllowUntimestamped also accepts a call without X-Rotor-Timestamp
	// whose signature covers the body alone, as servers before the
	// timestamp sent. Such a call can be replayed for ever: set it only
	// while Rotor itself is being upgraded. False refuses them.
	AllowUntimestamped bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// VerifyWebhook reads the body of a call from Rotor to one of the
// project's hooks and returns it once its signature checks out against the
// project secret and its timestamp is within DefaultWebhookTolerance of
// now; else an error wrapping ErrBadSignature (answer 401 then).
func VerifyWebhook(r *http.Request, secret []byte) ([]byte, error) {
	return WebhookVerifier{Secret: secret}.Webhook(r)
}

// VerifySignature checks the signature headers of a webhook call against
// its body, in constant time, with the defaults of VerifyWebhook.
func VerifySignature(secret, body []byte, h http.Header) error {
	return WebhookVerifier{Secret: secret}.Signature(body, h)
}

// Webhook reads the body of r and returns it once Signature accepts it.
func (v WebhookVerifier) Webhook(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("apiclient: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, fmt.Errorf("apiclient: webhook body longer than %d bytes", MaxWebhookBody)
	}
	if err := v.Signature(body, r.Header); err != nil {
		return nil, err
	}
	return body, nil
}

// Signature checks the headers of a call against its raw body: the
// signature over "<timestamp>.<body>" first, then the timestamp's age, so
// ErrStaleWebhook only ever names a genuine call.
func (v WebhookVerifier) Signature(body []byte, h http.Header) error {
	if len(v.Secret) == 0 {
		return errors.New("apiclient: empty project secret")
	}
	sig := h.Get(SignatureHeader)
	ts := h.Get(TimestampHeader)
	if ts == "" && v.AllowUntimestamped {
		if !auth.VerifyBodySignature(v.Secret, body, sig) {
			return ErrBadSignature
		}
		return nil
	}
	if !auth.VerifyTimestampedSignature(v.Secret, body, ts, sig) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if age := now().Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w (signed %s ago, tolerance %s)", ErrStaleWebhook, age.Round(time.Second), tolerance)
	}
	return nil
}
