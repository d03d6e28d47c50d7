package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

// structurePages serves the structure pages: the project and namespace
// lists and forms, and the writes they make.
type structurePages struct {
	*shared
}

func (h *structurePages) projects(w http.ResponseWriter, r *http.Request) {
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

func (h *structurePages) newProject(w http.ResponseWriter, r *http.Request) {
	f := views.ProjectForm{New: true, Project: projectView(structure.Project{DefaultNamespace: "default"})}
	h.render(w, r, http.StatusOK, views.NewProjectPage(h.page(r, "New project"), f))
}

// writerOr403 returns the writer, or answers that the structure is
// read-only.
func (h *structurePages) writerOrRefuse(w http.ResponseWriter, r *http.Request) Writer {
	wr := h.writer()
	if wr == nil {
		h.storeError(w, r, h.readOnlyErr())
	}
	return wr
}

func (h *structurePages) createProject(w http.ResponseWriter, r *http.Request) {
	wr := h.writerOrRefuse(w, r)
	if wr == nil {
		return
	}
	p := structure.Project{ID: r.PostForm.Get("id")}
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

func (h *structurePages) project(w http.ResponseWriter, r *http.Request) {
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

func (h *structurePages) updateProject(w http.ResponseWriter, r *http.Request) {
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

func (h *structurePages) confirmDeleteProject(w http.ResponseWriter, r *http.Request) {
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

func (h *structurePages) deleteProject(w http.ResponseWriter, r *http.Request) {
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

func (h *structurePages) regenerateSecret(w http.ResponseWriter, r *http.Request) {
	h.regenerate(w, r, "Secret", Writer.RegenerateSecret)
}

func (h *structurePages) regenerateAPIKey(w http.ResponseWriter, r *http.Request) {
	h.regenerate(w, r, "API key", Writer.RegenerateAPIKey)
}

func (h *structurePages) regenerate(w http.ResponseWriter, r *http.Request, label string,
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
