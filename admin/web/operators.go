package web

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

// Operator is the optional part of Node behind the channel list and the
// operator actions (transport.AdminBridge has it). Each method goes
// through the node's own operation of the same name in the server API.
type Operator interface {
	// Channels lists the project's live channels matching a glob ("" for
	// all), with subscribers summed over every node.
	Channels(ctx context.Context, project, pattern string) (map[string]int, error)
	// Disconnect ends a user's streams on every node; without reconnect
	// it revokes the user's sessions too.
	Disconnect(ctx context.Context, project, user string, reconnect bool) error
	// Unsubscribe ends a user's subscription to a channel on every node.
	Unsubscribe(ctx context.Context, project, user, channel string) error
	// ConnectionToken and SubscriptionToken mint short-lived tokens signed
	// with the project secret, for trying things out.
	ConnectionToken(ctx context.Context, project, user string, ttl time.Duration) (string, error)
	SubscriptionToken(ctx context.Context, project, user, channel string, ttl time.Duration) (string, error)
}

const (
	// channelsPerPage is the channel list's default page size;
	// maxChannelsPerPage bounds per_page.
	channelsPerPage    = 50
	maxChannelsPerPage = 1000
	// testTokenTTL is the lifetime of a token minted from the UI.
	testTokenTTL = 10 * time.Minute
)

func (h *Handler) operator() Operator {
	op, _ := h.opts.Node.(Operator)
	return op
}

// sessionID is a non-secret name of the admin's session for the logs: a
// hash of the session's random id, which cannot be turned back into a
// cookie.
func (h *Handler) sessionID(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	id, ok := h.sessions.check(c.Value)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte("rotor admin session " + id))
	return hex.EncodeToString(sum[:6])
}

// audit logs an operator action at INFO with who did it.
func (h *Handler) audit(r *http.Request, action, project string, attrs ...any) {
	h.log.InfoContext(r.Context(), "admin action",
		append([]any{"action", action, "project", project, "session", h.sessionID(r)}, attrs...)...)
}

// channelListing is one page of a project's live channels.
type channelListing struct {
	Channels []channelEntry `json:"channels"`
	Total    int            `json:"total"`
	Page     int            `json:"page"`
	PerPage  int            `json:"per_page"`
	Pattern  string         `json:"pattern"`
}

type channelEntry struct {
	Channel string `json:"channel"`
	Clients int    `json:"clients"`
}

// listChannels reads pattern, page and per_page from q and lists that page,
// sorted by name. The error is a *pubsub.Error for a bad parameter.
func (h *Handler) listChannels(ctx context.Context, project string, q map[string][]string) (channelListing, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	l := channelListing{Pattern: get("pattern"), Page: 1, PerPage: channelsPerPage, Channels: []channelEntry{}}
	if l.Pattern == "" {
		l.Pattern = "*"
	}
	if _, err := path.Match(l.Pattern, ""); err != nil {
		return l, pubsub.Errorf(pubsub.CodeBadRequest, "pattern is not a valid glob: %v", err)
	}
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &l.Page, 1 << 30}, {"per_page", &l.PerPage, maxChannelsPerPage}} {
		if s := get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > f.max {
				return l, pubsub.Errorf(pubsub.CodeBadRequest, "%s must be a number from 1 to %d", f.name, f.max)
			}
			*f.dst = n
		}
	}
	op := h.operator()
	if op == nil {
		return l, pubsub.ErrUnavailable
	}
	counts, err := op.Channels(ctx, project, l.Pattern)
	if err != nil {
		return l, err
	}
	all := make([]channelEntry, 0, len(counts))
	for ch, n := range counts {
		all = append(all, channelEntry{Channel: ch, Clients: n})
	}
	slices.SortFunc(all, func(a, b channelEntry) int { return cmp.Compare(a.Channel, b.Channel) })
	l.Total = len(all)
	from := min((l.Page-1)*l.PerPage, len(all))
	l.Channels = append(l.Channels, all[from:min(from+l.PerPage, len(all))]...)
	return l, nil
}

// apiChannels is GET /api/admin/projects/{id}/channels.
func (h *Handler) apiChannels(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	l, err := h.listChannels(r.Context(), p.ID, r.URL.Query())
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// channelsPage is the list of live channels, or the tools of one channel
// when ?channel= names it.
func (h *Handler) channelsPage(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSpace(r.URL.Query().Get("channel")) != "" {
		h.channelPage(w, r)
		return
	}
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pg := h.page(r, "Channels of "+p.ID)
	l, err := h.listChannels(r.Context(), p.ID, r.URL.Query())
	status := http.StatusOK
	if err != nil {
		st, _, msg := classify(err)
		if st == http.StatusInternalServerError {
			h.log.Error("list channels", "project", p.ID, "err", err)
		}
		pg.Error, status = "Cannot list channels: "+msg, st
	}
	h.render(w, r, status, views.ChannelsPage(pg, channelListView(p.ID, l)))
}

func channelListView(project string, l channelListing) views.ChannelList {
	v := views.ChannelList{ProjectID: project, Pattern: l.Pattern, Total: l.Total, Page: l.Page, PerPage: l.PerPage}
	for _, c := range l.Channels {
		v.Channels = append(v.Channels, views.ChannelCount{Channel: c.Channel, Clients: c.Clients})
	}
	v.HasNext = l.Page*l.PerPage < l.Total
	return v
}

// anonymousUser stands for "no user" in a user page's path, for minting a
// subscription token for an anonymous connection.
const anonymousUser = "-"

// findUser sends the user form (GET ?user=) to the user's page.
func (h *Handler) findUser(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.URL.Query().Get("user"))
	if user == "" {
		h.renderError(w, r, http.StatusBadRequest, "Give a user id.")
		return
	}
	http.Redirect(w, r, h.opts.BasePath+"/projects/"+url.PathEscape(chi.URLParam(r, "id"))+"/users/"+url.PathEscape(user), http.StatusSeeOther)
}

// userPage shows what can be done to one user of a project.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	u := views.User{ProjectID: p.ID, User: chi.URLParam(r, "user"), Channel: r.URL.Query().Get("channel")}
	h.render(w, r, http.StatusOK, views.UserPage(h.page(r, "User "+u.User), u))
}

// confirmed reports whether the form is the confirm step's; otherwise it
// renders that step, a second form repeating the fields with confirm=yes,
// which works without JavaScript.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, c views.Confirm) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	c.Action, c.Back = r.URL.Path, path.Dir(r.URL.Path)
	for k, v := range r.PostForm {
		if k != "confirm" && len(v) > 0 {
			c.Fields = append(c.Fields, views.Field{Name: k, Value: v[len(v)-1]})
		}
	}
	slices.SortFunc(c.Fields, func(a, b views.Field) int { return cmp.Compare(a.Name, b.Name) })
	h.render(w, r, http.StatusOK, views.ConfirmActionPage(h.page(r, "Confirm"), c))
	return false
}

// actionDone renders the user page with the outcome of an action.
func (h *Handler) actionDone(w http.ResponseWriter, r *http.Request, u views.User, action string, err error) {
	pg := h.page(r, "User "+u.User)
	status := http.StatusOK
	if err != nil {
		st, _, msg := classify(err)
		if st == http.StatusInternalServerError {
			h.log.Error("admin action", "action", action, "project", u.ProjectID, "err", err)
		}
		pg.Error, status = msg, st
	} else {
		pg.Flash = u.Done
	}
	h.render(w, r, status, views.UserPage(pg, u))
}

func (h *Handler) userFromForm(w http.ResponseWriter, r *http.Request) (views.User, Operator, bool) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return views.User{}, nil, false
	}
	u := views.User{ProjectID: p.ID, User: chi.URLParam(r, "user"), Channel: strings.TrimSpace(r.PostForm.Get("channel"))}
	op := h.operator()
	if op == nil {
		h.actionDone(w, r, u, "", pubsub.ErrUnavailable)
		return u, nil, false
	}
	return u, op, true
}

// disconnect ends a user's connections, after a confirm step.
func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request) {
	u, op, ok := h.userFromForm(w, r)
	if !ok {
		return
	}
	reconnect := r.PostForm.Get("reconnect") == "on"
	what := "Disconnect every connection of user " + u.User + " on every node"
	if reconnect {
		what += "; they may reconnect at once."
	} else {
		what += " and revoke their sessions: they cannot reconnect with the tokens they hold."
	}
	if !h.confirmed(w, r, views.Confirm{Title: "Disconnect " + u.User + "?", Text: what, Button: "Disconnect"}) {
		return
	}
	err := op.Disconnect(r.Context(), u.ProjectID, u.User, reconnect)
	h.audit(r, "disconnect", u.ProjectID, "user", u.User, "reconnect", reconnect, "ok", err == nil)
	u.Done = "Disconnected " + u.User + "."
	h.actionDone(w, r, u, "disconnect", err)
}

// unsubscribe ends a user's subscription to a channel, after a confirm
// step.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	u, op, ok := h.userFromForm(w, r)
	if !ok {
		return
	}
	if u.Channel == "" {
		h.actionDone(w, r, u, "unsubscribe", pubsub.Errorf(pubsub.CodeBadRequest, "channel is required"))
		return
	}
	if !h.confirmed(w, r, views.Confirm{
		Title:  "Unsubscribe " + u.User + " from " + u.Channel + "?",
		Text:   "End the subscriptions of user " + u.User + " to " + u.Channel + " on every node and revoke the grants issued for it.",
		Button: "Unsubscribe",
	}) {
		return
	}
	err := op.Unsubscribe(r.Context(), u.ProjectID, u.User, u.Channel)
	h.audit(r, "unsubscribe", u.ProjectID, "user", u.User, "channel", u.Channel, "ok", err == nil)
	u.Done = "Unsubscribed " + u.User + " from " + u.Channel + "."
	h.actionDone(w, r, u, "unsubscribe", err)
}

// mintToken mints a connection token for the user, or a subscription
// token when a channel is given. It ends nothing, so it needs no confirm
// step.
func (h *Handler) mintToken(w http.ResponseWriter, r *http.Request) {
	u, op, ok := h.userFromForm(w, r)
	if !ok {
		return
	}
	var err error
	kind := "connection"
	if u.Channel != "" {
		kind = "subscription"
		user := u.User
		if user == anonymousUser {
			user = ""
		}
		u.Token, err = op.SubscriptionToken(r.Context(), u.ProjectID, user, u.Channel, testTokenTTL)
	} else {
		u.Token, err = op.ConnectionToken(r.Context(), u.ProjectID, u.User, testTokenTTL)
	}
	h.audit(r, "mint_token", u.ProjectID, "user", u.User, "kind", kind, "channel", u.Channel, "ok", err == nil)
	u.TokenKind, u.TokenTTL = kind, testTokenTTL.String()
	u.Done = "Minted a " + kind + " token valid for " + testTokenTTL.String() + "."
	h.actionDone(w, r, u, "mint_token", err)
}
