package web

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/views"
)

func (h *Handler) projects(w http.ResponseWriter, r *http.Request) {
	list, err := h.opts.Store.Projects(r.Context())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	p := h.page(r, "Projects")
	if r.URL.Query().Has("deleted") {
		p.Flash = "Project deleted."
	}
	h.render(w, r, http.StatusOK, views.ProjectsPage(p, projectViews(list)))
}

func (h *Handler) newProject(w http.ResponseWriter, r *http.Request) {
	f := views.ProjectForm{New: true, Project: projectView(admin.Project{DefaultNamespace: "default"})}
	h.render(w, r, http.StatusOK, views.NewProjectPage(h.page(r, "New project"), f))
}

// projectCopy returns a copy of the stored project that may be changed.
func (h *Handler) projectCopy(r *http.Request) (*admin.Project, error) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	c := *p
	c.AllowedOrigins = slices.Clone(p.AllowedOrigins)
	c.Namespaces = slices.Clone(p.Namespaces)
	return &c, nil
}

// writerOr403 returns the writer, or answers that the structure is
// read-only.
func (h *Handler) writerOrRefuse(w http.ResponseWriter, r *http.Request) Writer {
	wr := h.writer()
	if wr == nil {
		h.storeError(w, r, h.readOnlyErr())
	}
	return wr
}

func (h *Handler) createProject(w http.ResponseWriter, r *http.Request) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	p := admin.Project{ID: r.PostForm.Get("id")}
	errs := projectFromForm(r, &p)
	if len(errs) == 0 {
		err := wr.CreateProject(r.Context(), &p)
		if err == nil {
			h.changed()
			pg := h.page(r, "Project "+p.ID)
			pg.Flash = "Project created."
			h.render(w, r, http.StatusCreated, views.ProjectPage(pg, views.ProjectForm{Project: projectView(p)}, []views.Revealed{
				{Label: "Secret", Value: p.Secret}, {Label: "API key", Value: p.APIKey},
			}))
			return
		}
		if !isInvalid(err) {
			h.storeError(w, r, err)
			return
		}
		errs = fieldErrors(err)
	}
	p.Secret, p.APIKey = "", ""
	h.render(w, r, http.StatusBadRequest, views.NewProjectPage(h.page(r, "New project"),
		views.ProjectForm{New: true, Project: projectView(p), Errors: errs}))
}

func (h *Handler) project(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pg := h.page(r, "Project "+p.ID)
	if r.URL.Query().Has("saved") {
		pg.Flash = "Saved."
	}
	charts := h.charts(r, p.ID)
	h.render(w, r, http.StatusOK, views.ProjectPage(pg, views.ProjectForm{Project: projectView(*p), Charts: &charts}, nil))
}

func (h *Handler) updateProject(w http.ResponseWriter, r *http.Request) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	errs := projectFromForm(r, p)
	if len(errs) == 0 {
		err := wr.UpdateProject(r.Context(), p)
		if err == nil {
			h.changed()
			http.Redirect(w, r, h.opts.BasePath+"/projects/"+p.ID+"?saved", http.StatusSeeOther)
			return
		}
		if !isInvalid(err) {
			h.storeError(w, r, err)
			return
		}
		errs = fieldErrors(err)
	}
	h.render(w, r, http.StatusBadRequest, views.ProjectPage(h.page(r, "Project "+p.ID),
		views.ProjectForm{Project: projectView(*p), Errors: errs}, nil))
}

func (h *Handler) confirmDeleteProject(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pg := h.page(r, "Delete project "+p.ID)
	base := h.opts.BasePath + "/projects/" + p.ID
	h.render(w, r, http.StatusOK, views.ConfirmPage(pg,
		"Delete project "+p.ID+" ("+p.Name+") and all its namespaces? Its clients will be refused from now on. This cannot be undone.",
		base+"/delete", base))
}

func (h *Handler) deleteProject(w http.ResponseWriter, r *http.Request) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	if err := wr.DeleteProject(r.Context(), chi.URLParam(r, "id")); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.changed()
	http.Redirect(w, r, h.opts.BasePath+"/projects?deleted", http.StatusSeeOther)
}

func (h *Handler) regenerateSecret(w http.ResponseWriter, r *http.Request) {
	h.regenerate(w, r, "Secret", Writer.RegenerateSecret)
}

func (h *Handler) regenerateAPIKey(w http.ResponseWriter, r *http.Request) {
	h.regenerate(w, r, "API key", Writer.RegenerateAPIKey)
}

func (h *Handler) regenerate(w http.ResponseWriter, r *http.Request, label string,
	fn func(Writer, contextT, string) (string, error)) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	v, err := fn(wr, r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.changed()
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pg := h.page(r, "Project "+p.ID)
	pg.Flash = label + " regenerated."
	h.render(w, r, http.StatusOK, views.ProjectPage(pg, views.ProjectForm{Project: projectView(*p)},
		[]views.Revealed{{Label: label, Value: v}}))
}
