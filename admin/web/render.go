package web

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/a-h/templ"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

// render renders c into a buffer first, so a failing template becomes a
// clean 500 instead of half a page.
func (h *shared) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		h.log.Error("render page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *shared) page(r *http.Request, title string) views.Page {
	return views.Page{Title: title, Base: h.opts.BasePath, ReadOnly: h.opts.Store.ReadOnly(), Owner: h.owner(), LoggedIn: h.loggedIn(r)}
}

// owner names the node that owns a structure read from the engine, "" for
// other stores.
func (h *shared) owner() string {
	if o, ok := h.opts.Store.(Owned); ok {
		return o.OwnerNode()
	}
	return ""
}

func (h *shared) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := h.page(r, http.StatusText(status))
	p.Error = msg
	h.render(w, r, status, views.ErrorPage(p))
}

// storeError shows a store error that is not about a form field.
func (h *shared) storeError(w http.ResponseWriter, r *http.Request, err error) {
	status, _, msg := classify(err)
	if status == http.StatusInternalServerError {
		h.log.Error("admin request failed", "path", r.URL.Path, "err", err)
	}
	h.renderError(w, r, status, msg)
}

// fieldErrors collects every *structure.FieldError in err's tree. Errors that
// name no field go under "".
func fieldErrors(err error) views.FieldErrors {
	out := views.FieldErrors{}
	if errors.Is(err, structure.ErrExists) {
		out[""] = err.Error()
		return out
	}
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*structure.FieldError); ok {
			if _, dup := out[fe.Field]; !dup {
				out[fe.Field] = fe.Message
			}
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			out[""] = e.Error()
		}
	}
	walk(err)
	return out
}

// isInvalid reports whether err is about the input (a field, a duplicate).
func isInvalid(err error) bool {
	var fe *structure.FieldError
	return errors.As(err, &fe) || errors.Is(err, structure.ErrExists)
}
