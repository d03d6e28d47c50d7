package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

type contextT = context.Context

func (h *structurePages) newNamespace(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	f := views.NamespaceForm{ProjectID: p.ID, New: true, Namespace: namespaceView(structure.DefaultNamespaceSettings(""))}
	h.render(w, r, http.StatusOK, views.NamespacePage(h.page(r, "New namespace"), f))
}

func (h *structurePages) namespace(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	ns, ok := p.Namespace(name)
	if !ok || name == "" {
		h.renderError(w, r, http.StatusNotFound, "No namespace "+name+" in project "+p.ID+".")
		return
	}
	pg := h.page(r, "Namespace "+name)
	if r.URL.Query().Has("saved") {
		pg.Flash = "Saved."
	}
	h.render(w, r, http.StatusOK, views.NamespacePage(pg, views.NamespaceForm{
		ProjectID: p.ID, Namespace: namespaceView(*ns), IsDefault: name == p.DefaultNamespace,
	}))
}

func (h *structurePages) createNamespace(w http.ResponseWriter, r *http.Request) {
	h.saveNamespace(w, r, true)
}

func (h *structurePages) updateNamespace(w http.ResponseWriter, r *http.Request) {
	h.saveNamespace(w, r, false)
}

func (h *structurePages) saveNamespace(w http.ResponseWriter, r *http.Request, isNew bool) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	// A new namespace starts from the defaults, an existing one from what
	// is stored: fields the form did not send keep those values.
	var ns structure.Namespace
	if isNew {
		ns = structure.DefaultNamespaceSettings(strings.TrimSpace(r.PostForm.Get("name")))
	} else {
		name := chi.URLParam(r, "name")
		cur, ok := p.Namespace(name)
		if !ok || name == "" {
			h.renderError(w, r, http.StatusNotFound, "No namespace "+name+" in project "+p.ID+".")
			return
		}
		ns = *cur
	}
	errs := namespaceFromForm(r, &ns)
	if len(errs) == 0 {
		if isNew {
			err = wr.CreateNamespace(r.Context(), p.ID, ns)
		} else {
			err = wr.UpdateNamespace(r.Context(), p.ID, ns)
		}
		if err == nil {
			h.changed()
			http.Redirect(w, r, h.opts.BasePath+"/projects/"+p.ID+"/namespaces/"+ns.Name+"?saved", http.StatusSeeOther)
			return
		}
		if !isInvalid(err) {
			h.storeError(w, r, err)
			return
		}
		errs = fieldErrors(err)
	}
	h.render(w, r, http.StatusBadRequest, views.NamespacePage(h.page(r, "Namespace"), views.NamespaceForm{
		ProjectID: p.ID, Namespace: namespaceView(ns), New: isNew, IsDefault: ns.Name == p.DefaultNamespace, Errors: errs,
	}))
}

func (h *structurePages) confirmDeleteNamespace(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	if _, ok := p.Namespace(name); !ok || name == "" {
		h.renderError(w, r, http.StatusNotFound, "No namespace "+name+" in project "+p.ID+".")
		return
	}
	base := h.opts.BasePath + "/projects/" + p.ID + "/namespaces/" + name
	h.render(w, r, http.StatusOK, views.ConfirmPage(h.page(r, "Delete namespace "+name),
		"Delete namespace "+name+" of project "+p.ID+"? Its channels become unknown to clients.",
		base+"/delete", base))
}

func (h *structurePages) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	id := chi.URLParam(r, "id")
	if err := wr.DeleteNamespace(r.Context(), id, chi.URLParam(r, "name")); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.changed()
	http.Redirect(w, r, h.opts.BasePath+"/projects/"+id+"?saved", http.StatusSeeOther)
}
