package node

import (
	"context"
	"errors"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// StreamRequest asks for a stream in either form of docs/protocol.md
// (Streams): a session and grants, or a connection token and channels
// authorized inline.
type StreamRequest struct {
	Project *structure.Project
	// Transport names the stream's transport in metrics: "sse" or "poll".
	Transport string
	// IP is the address the per-IP limit counts the stream under.
	IP string
	// HTTPVersion labels the stream in rotor_streams_open: "1.1", "2" or
	// "other" ("" means other).
	HTTPVersion string
	// Start is when the request arrived, for rotor_connect_duration_seconds;
	// zero means when OpenStream was called.
	Start time.Time

	// GrantForm selects the session and grants form.
	GrantForm bool
	Session   string
	Grants    []string

	// Token, Channels and SubTokens are the inline form.
	Token     string
	Channels  []string
	SubTokens []string

	// Since is the resume id ("" for none); refused when unusable.
	Since string
	// LastEventID is the browser's Last-Event-ID (SSE only), used when
	// Since is empty and, unlike Since, never refused.
	LastEventID string
	// QuietResume sends no `sub` for channels resumed with nothing lost:
	// a poll's client had them already.
	QuietResume bool
}

// streamPlan is a validated stream request.
type streamPlan struct {
	id    *Identity
	chans []streamChan
	since []pubsub.Position
	// lost is set when the resume id could not be used: every channel
	// then reports recovered:false.
	lost bool
}

// OpenStream validates a stream request, reserves it against the limits,
// registers a hub stream for its channels (from then on nothing published
// is missed), catches every channel up from history into sink and enters
// presence. The caller owns the stream and must Close it.
func (n *Node) OpenStream(ctx context.Context, req StreamRequest, sink Sink) (*Stream, *pubsub.Error) {
	if req.Start.IsZero() {
		req.Start = time.Now()
	}
	plan, perr := n.planStream(ctx, req)
	if perr != nil {
		return nil, perr
	}
	release, perr := n.limits.acquire(req.IP, plan.id.client, len(plan.chans))
	if perr != nil {
		return nil, perr
	}
	n.metrics.streamsOpen.WithLabelValues(req.Transport).Inc()
	keys := make([]string, len(plan.chans))
	for i, c := range plan.chans {
		keys[i] = c.ref.key
	}
	if !n.streams.enter() {
		release()
		return nil, unavailable(pubsub.Errorf(pubsub.CodeUnavailable, "server shutting down"))
	}
	hs, err := n.hub.Open(ctx, pubsub.StreamOptions{
		Project: req.Project.ID, Client: plan.id.client, User: plan.id.user, QueueBytes: n.opts.QueueBytes,
	}, keys)
	if err != nil {
		n.streams.exit()
		release()
		e := n.metrics.fail(err)
		if errors.Is(err, pubsub.ErrClosed) {
			e = pubsub.Errorf(pubsub.CodeUnavailable, "server shutting down")
		}
		return nil, unavailable(e)
	}
	release = n.metrics.ops.streamOpened(req.Transport, req.HTTPVersion, req.Start, release)
	s := &Stream{
		engine: n.engine, log: n.log, presence: n.presence, report: n.events.emit, streams: &n.streams,
		st: hs, chans: plan.chans, sink: sink, lost: plan.lost,
		project: req.Project, expires: plan.id.expires, release: release,
		deliveries: n.metrics.deliveries.WithLabelValues(req.Transport),
	}
	if err := s.start(ctx, plan.since, !req.QuietResume || plan.since == nil); err != nil {
		s.Close()
		n.log.WarnContext(ctx, "stream start", "err", err)
		return nil, unavailable(n.metrics.fail(err))
	}
	n.presence.enterAll(s.chans)
	return s, nil
}

// unavailable gives e code 112: a stream that cannot be set up for a
// reason of the server's is worth retrying.
func unavailable(e *pubsub.Error) *pubsub.Error {
	if e.Code == pubsub.CodeUnavailable {
		return e
	}
	return &pubsub.Error{Code: pubsub.CodeUnavailable, Message: e.Message}
}

// planStream validates a stream request.
func (n *Node) planStream(ctx context.Context, req StreamRequest) (*streamPlan, *pubsub.Error) {
	var plan *streamPlan
	var perr *pubsub.Error
	if req.GrantForm {
		plan, perr = n.planGrantStream(ctx, req)
	} else {
		plan, perr = n.planTokenStream(ctx, req)
	}
	if perr != nil {
		return nil, perr
	}
	seen := make(map[string]bool, len(plan.chans))
	for _, c := range plan.chans {
		if seen[c.ref.key] {
			return nil, pubsub.Errorf(pubsub.CodeBadRequest, "channel %q appears twice", c.ref.ch.Full)
		}
		seen[c.ref.key] = true
	}
	if req.Since == "" && req.LastEventID != "" {
		// A browser's EventSource gives up for good on any status but
		// 200, so an id we cannot use (another version's format, other
		// channels) resumes nothing rather than failing: every channel
		// starts at its current position with recovered:false.
		ps, err := pubsub.DecodePositions(req.LastEventID)
		if err != nil || len(ps) != len(plan.chans) {
			plan.lost = true
			return plan, nil
		}
		plan.since = ps
		return plan, nil
	}
	if req.Since != "" {
		ps, err := pubsub.DecodePositions(req.Since)
		if err != nil {
			return nil, pubsub.AsError(err)
		}
		if len(ps) != len(plan.chans) {
			return nil, pubsub.Errorf(pubsub.CodeBadRequest, "stream id has %d positions for %d channels", len(ps), len(plan.chans))
		}
		plan.since = ps
	}
	return plan, nil
}

func (n *Node) planGrantStream(ctx context.Context, req StreamRequest) (*streamPlan, *pubsub.Error) {
	p := req.Project
	id, perr := n.Session(ctx, p, req.Session)
	if perr != nil {
		return nil, perr
	}
	if len(req.Grants) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "at least one grant is required")
	}
	if perr := n.limits.checkChannelCount(len(req.Grants)); perr != nil {
		return nil, perr
	}
	plan := &streamPlan{id: id}
	for _, g := range req.Grants {
		gr, err := auth.VerifyGrant([]byte(p.Secret), p.ID, id.client, g, n.opts.Now())
		if err != nil {
			return nil, unauthorized(err)
		}
		if perr := n.sessions.grantRevoked(ctx, id, gr); perr != nil {
			return nil, perr
		}
		ref, perr := resolve(p, gr.Channel)
		if perr != nil {
			return nil, perr
		}
		plan.chans = append(plan.chans, streamChan{ref: ref, info: id.clientInfo(gr.ChanInfo)})
	}
	return plan, nil
}

func (n *Node) planTokenStream(ctx context.Context, req StreamRequest) (*streamPlan, *pubsub.Error) {
	p := req.Project
	id, _, perr := n.sessions.fromToken(p, req.Token)
	if perr != nil {
		return nil, unauthorized(perr)
	}
	names := req.Channels
	if len(names) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "at least one channel is required")
	}
	if perr := n.limits.checkChannelCount(len(names)); perr != nil {
		return nil, perr
	}
	// Subscription tokens name their channel in their claims.
	chanInfo := map[string][]byte{}
	tokenFor := map[string]bool{}
	for _, t := range req.SubTokens {
		claims, perr := n.sessions.subscriptionToken(id, t)
		if perr != nil {
			return nil, perr
		}
		tokenFor[claims.Channel] = true
		chanInfo[claims.Channel] = claims.Info
	}
	plan := &streamPlan{id: id}
	var private []string
	for _, name := range names {
		ref, perr := resolve(p, name)
		if perr != nil {
			return nil, perr
		}
		if perr := checkSubscribe(ref, id.user); perr != nil {
			return nil, perr
		}
		if ref.ch.Private && !tokenFor[name] {
			private = append(private, name)
		}
		plan.chans = append(plan.chans, streamChan{ref: ref})
	}
	answers := n.sessions.authorizePrivate(ctx, id, private)
	for _, name := range private {
		a := answers[name]
		if !a.Allow {
			return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: channel %q", name)
		}
		chanInfo[name] = a.Info
	}
	for i := range plan.chans {
		plan.chans[i].info = id.clientInfo(chanInfo[plan.chans[i].ref.ch.Full])
	}
	return plan, nil
}
