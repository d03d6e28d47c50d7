package transport

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/auth"
)

// streamRequest is a validated SSE or poll request.
type streamRequest struct {
	id    *identity
	chans []streamChan
	since []pubsub.Position
	// lost is set when the resume id could not be used: every channel
	// then reports recovered:false.
	lost bool
}

// refused answers a stream request that fails, with its HTTP status.
type refused struct {
	status int
	err    *pubsub.Error
}

func refuse(status int, e *pubsub.Error) *refused { return &refused{status: status, err: e} }

// parseStream validates a stream request in either form of
// docs/protocol.md (Streams):
// session + grants, or a connection token + channels authorized inline.
// since is the resume id ("" for none).
// lastEventID is the Last-Event-ID header (SSE only), used when since is
// empty and, unlike since, never refused.
func (n *Node) parseStream(r *http.Request, p *admin.Project, since, lastEventID string) (*streamRequest, *refused) {
	q := r.URL.Query()
	var req *streamRequest
	var bad *refused
	if q.Has("grant") || q.Has("session") {
		req, bad = n.parseGrantStream(r.Context(), r, p, q)
	} else {
		req, bad = n.parseTokenStream(r.Context(), p, q)
	}
	if bad != nil {
		return nil, bad
	}
	seen := make(map[string]bool, len(req.chans))
	for _, c := range req.chans {
		if seen[c.ref.key] {
			return nil, refuse(http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "channel %q appears twice", c.ref.ch.Full))
		}
		seen[c.ref.key] = true
	}
	if since == "" && lastEventID != "" {
		// A browser's EventSource gives up for good on any status but
		// 200, so an id we cannot use (another version's format, other
		// channels) resumes nothing rather than failing: every channel
		// starts at its current position with recovered:false.
		ps, err := pubsub.DecodePositions(lastEventID)
		if err != nil || len(ps) != len(req.chans) {
			req.lost = true
			return req, nil
		}
		req.since = ps
		return req, nil
	}
	if since != "" {
		ps, err := pubsub.DecodePositions(since)
		if err != nil {
			return nil, refuse(http.StatusBadRequest, pubsub.AsError(err))
		}
		if len(ps) != len(req.chans) {
			return nil, refuse(http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "stream id has %d positions for %d channels", len(ps), len(req.chans)))
		}
		req.since = ps
	}
	return req, nil
}

// checkChannelCount applies limits.channels_per_stream before any grant or
// channel is looked at, so a long list costs no verification work.
func (n *Node) checkChannelCount(count int) *refused {
	if count <= n.opts.ChannelsPerStream {
		return nil
	}
	n.refusedBy(limitChannelsPerStream)
	return refuse(http.StatusBadRequest, pubsub.Errorf(pubsub.CodeLimitExceeded, "too many channels in one stream (limit %d)", n.opts.ChannelsPerStream))
}

func (n *Node) parseGrantStream(ctx context.Context, r *http.Request, p *admin.Project, q url.Values) (*streamRequest, *refused) {
	s := q.Get("session")
	if s == "" {
		var perr *pubsub.Error
		if s, perr = cookieSession(p, r); perr != nil {
			return nil, refuse(http.StatusForbidden, perr)
		}
	}
	id, status, perr := n.fromSession(ctx, p, s)
	if perr != nil {
		return nil, refuse(status, perr)
	}
	grants := q["grant"]
	if len(grants) == 0 {
		return nil, refuse(http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "at least one grant is required"))
	}
	if bad := n.checkChannelCount(len(grants)); bad != nil {
		return nil, bad
	}
	req := &streamRequest{id: id}
	for _, g := range grants {
		gr, err := auth.VerifyGrant([]byte(p.Secret), p.ID, id.client, g, n.opts.Now())
		if err != nil {
			return nil, refuse(http.StatusUnauthorized, pubsub.AsError(err))
		}
		if perr := n.grantRevoked(ctx, id, gr); perr != nil {
			return nil, refuse(statusOf(perr), perr)
		}
		ref, perr := resolve(p, gr.Channel)
		if perr != nil {
			return nil, refuse(http.StatusForbidden, perr)
		}
		req.chans = append(req.chans, streamChan{ref: ref, info: id.clientInfo(gr.ChanInfo)})
	}
	return req, nil
}

func (n *Node) parseTokenStream(ctx context.Context, p *admin.Project, q url.Values) (*streamRequest, *refused) {
	id, _, perr := n.fromToken(p, q.Get("token"))
	if perr != nil {
		return nil, refuse(http.StatusUnauthorized, perr)
	}
	names := q["channel"]
	if len(names) == 0 {
		return nil, refuse(http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "at least one channel is required"))
	}
	if bad := n.checkChannelCount(len(names)); bad != nil {
		return nil, bad
	}
	// Subscription tokens name their channel in their claims.
	chanInfo := map[string][]byte{}
	tokenFor := map[string]bool{}
	for _, t := range q["sub_token"] {
		claims, perr := n.subscriptionToken(id, t)
		if perr != nil {
			return nil, refuse(statusOf(perr), perr)
		}
		tokenFor[claims.Channel] = true
		chanInfo[claims.Channel] = claims.Info
	}
	req := &streamRequest{id: id}
	var private []string
	for _, name := range names {
		ref, perr := resolve(p, name)
		if perr != nil {
			status := http.StatusForbidden
			if perr.Code == pubsub.CodeBadRequest {
				status = http.StatusBadRequest
			}
			return nil, refuse(status, perr)
		}
		if perr := checkSubscribe(ref, id.user); perr != nil {
			return nil, refuse(http.StatusForbidden, perr)
		}
		if ref.ch.Private && !tokenFor[name] {
			private = append(private, name)
		}
		req.chans = append(req.chans, streamChan{ref: ref})
	}
	answers := n.authorizePrivate(ctx, id, private)
	for _, name := range private {
		a := answers[name]
		if !a.Allow {
			return nil, refuse(http.StatusForbidden, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: channel %q", name))
		}
		chanInfo[name] = a.Info
	}
	for i := range req.chans {
		req.chans[i].info = id.clientInfo(chanInfo[req.chans[i].ref.ch.Full])
	}
	return req, nil
}

// openStream does what SSE and polls share before their first event:
// validate the request, reserve it against the limits, and register a hub
// stream for its channels (from then on nothing published is missed). On
// failure it has answered the request and returns nil; otherwise the
// caller owns release and the stream, and has one more in n.streams.
func (n *Node) openStream(w http.ResponseWriter, r *http.Request, p *admin.Project, transport, since, lastEventID string) (*streamRequest, *pubsub.Stream, func()) {
	start := time.Now()
	req, bad := n.parseStream(r, p, since, lastEventID)
	if bad != nil {
		writeError(w, bad.status, bad.err)
		return nil, nil, nil
	}
	release, bad := n.acquire(n.clientIP(r), req.id.client, len(req.chans))
	if bad != nil {
		writeError(w, bad.status, bad.err)
		return nil, nil, nil
	}
	n.metrics.streamsOpen.WithLabelValues(transport).Inc()
	keys := make([]string, len(req.chans))
	for i, c := range req.chans {
		keys[i] = c.ref.key
	}
	st, err := n.hub.Open(r.Context(), pubsub.StreamOptions{
		Project: p.ID, Client: req.id.client, User: req.id.user, QueueBytes: n.opts.QueueBytes,
	}, keys)
	if err != nil {
		release()
		e := n.fail(err)
		if errors.Is(err, pubsub.ErrClosed) {
			e = pubsub.Errorf(pubsub.CodeUnavailable, "server shutting down")
		}
		writeError(w, http.StatusServiceUnavailable, e)
		return nil, nil, nil
	}
	n.streams.Add(1)
	return req, st, n.streamOpened(r, transport, start, release)
}
