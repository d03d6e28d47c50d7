package apiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/rotor-rt/rotor/transport/auth"
)

// SignatureHeader carries the signature of Rotor's calls to auth_url,
// publish_hook_url and events_hook_url.
const SignatureHeader = auth.SignatureHeader

// MaxWebhookBody bounds the body VerifyWebhook reads: an events batch of
// 100 events with the largest publications fits.
const MaxWebhookBody = 16 << 20

// ErrBadSignature is returned for a webhook call whose signature does not
// match the project secret.
var ErrBadSignature = errors.New("apiclient: bad webhook signature")

// VerifyWebhook reads the body of a call from Rotor to one of the
// project's hooks and returns it once its signature checks out against the
// project secret; else ErrBadSignature (answer 401 then).
func VerifyWebhook(r *http.Request, secret []byte) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("apiclient: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, fmt.Errorf("apiclient: webhook body longer than %d bytes", MaxWebhookBody)
	}
	if err := VerifySignature(secret, body, r.Header); err != nil {
		return nil, err
	}
	return body, nil
}

// VerifySignature checks the signature headers of a webhook call against
// its body, in constant time. It is the one place that knows what Rotor
// signs, so a signature that comes to cover more (a timestamp header,
// say) changes only this function.
func VerifySignature(secret, body []byte, h http.Header) error {
	if len(secret) == 0 {
		return errors.New("apiclient: empty project secret")
	}
	if !auth.VerifyBodySignature(secret, body, h.Get(SignatureHeader)) {
		return ErrBadSignature
	}
	return nil
}
