package dmptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// handleDocPatch serves the metadata update: PATCH DocumentReference/{id}
// with a JSON Patch (application/json-patch+json) and If-Match:
// W/"versionId". Only securityLabel and the isArchived extension may
// change; only the author may change them. A stale If-Match is 412, a
// missing one 428.
func (s *Server) handleDocPatch(w http.ResponseWriter, r *http.Request, c *caller) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, fhir.MediaJSONPatch) {
		writeOutcome(w, http.StatusUnsupportedMediaType, fhir.NewOutcome("not-supported", "want Content-Type "+fhir.MediaJSONPatch))
		return
	}
	var ops []fhir.PatchOp
	if err := fhir.DecodeBounded(r.Body, 1<<20, &ops); err != nil {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
		return
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	d, ok := s.docForUpdate(w, r, c, "patch")
	if !ok {
		return
	}
	before, _ := json.Marshal(d.Ref)
	var tree any
	_ = json.Unmarshal(before, &tree)
	tree, err := applyPatch(tree, ops)
	if err != nil {
		writeOutcome(w, http.StatusUnprocessableEntity, fhir.NewOutcome("processing", err.Error()))
		return
	}
	after, _ := json.Marshal(tree)
	var next fhir.DocumentReference
	if err := fhir.Unmarshal(after, &next); err != nil {
		writeOutcome(w, http.StatusUnprocessableEntity, fhir.NewOutcome("processing", err.Error()))
		return
	}
	if !onlyMetadataChanged(d.Ref, next) {
		writeOutcome(w, http.StatusMethodNotAllowed, fhir.NewOutcome("not-supported", "only securityLabel and the isArchived extension may change"))
		return
	}
	if v := fhir.VisibilityOf(next.SecurityLabel); v.MaskedToProfessionals && v.HiddenFromPatient {
		writeOutcome(w, http.StatusUnprocessableEntity, fhir.NewOutcome("business-rule", "a document cannot be both masked to professionals and invisible to the patient"))
		return
	}
	d.Ref.SecurityLabel, d.Ref.Extension = next.SecurityLabel, next.Extension
	d.stamp(d.Version+1, s.now()) // and d.changed()
	s.persistLater(d.patient)
	w.Header().Set("ETag", fhir.WeakETag(itoa(d.Version)))
	writeJSON(w, http.StatusOK, d.Ref)
}

// handleDocDelete deletes a document (logically): only its author may.
// If-Match is honoured when given.
func (s *Server) handleDocDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	d, ok := s.docForUpdate(w, r, c, "delete")
	if !ok {
		return
	}
	d.Deleted = true
	d.stamp(d.Version+1, s.now())
	s.persistLater(d.patient)
	w.WriteHeader(http.StatusNoContent)
}

// docForUpdate finds the document, applies the access rules, the author
// rule and If-Match (required for PATCH).
func (s *Server) docForUpdate(w http.ResponseWriter, r *http.Request, c *caller, action string) (*doc, bool) {
	d := s.docByID(r.PathValue("id"), false)
	if d == nil {
		writeOutcome(w, http.StatusNotFound, fhir.NewOutcome("not-found", "no such resource"))
		return nil, false
	}
	rec := d.patient
	if !checkPatient(w, c, fhir.INSToken(rec.Patient.INS)) {
		return nil, false
	}
	what := "DocumentReference/" + d.Ref.ID
	den := s.access(rec, c, opUpdate)
	if den == "" && d.Author != c.RPPS {
		den = app.DeniedNotAuthor
		if !d.visibleTo(c.RPPS) {
			s.trace(rec, c, action, what, app.DeniedOther)
			writeOutcome(w, http.StatusNotFound, fhir.NewOutcome("not-found", "no such resource"))
			return nil, false
		}
	}
	if den != "" {
		s.trace(rec, c, action, what, den)
		deny(w, den, action+" refused")
		return nil, false
	}
	if d.Deleted {
		writeOutcome(w, http.StatusGone, fhir.NewOutcome("deleted", "the document was deleted"))
		return nil, false
	}
	im := r.Header.Get("If-Match")
	if im == "" && action == "patch" {
		writeOutcome(w, http.StatusPreconditionRequired, fhir.NewOutcome("required", `If-Match: W/"versionId" is required`))
		return nil, false
	}
	if im != "" && fhir.VersionFromETag(im) != itoa(d.Version) {
		w.Header().Set("ETag", fhir.WeakETag(itoa(d.Version)))
		writeOutcome(w, http.StatusPreconditionFailed, fhir.NewOutcome("conflict", "the document changed: version "+itoa(d.Version)))
		return nil, false
	}
	s.trace(rec, c, action, what, "")
	return d, true
}

// onlyMetadataChanged reports whether b differs from a at most in
// securityLabel and the isArchived extension.
func onlyMetadataChanged(a, b fhir.DocumentReference) bool {
	strip := func(d fhir.DocumentReference) []byte {
		d.SecurityLabel = nil
		var ext []fhir.Extension
		for _, e := range d.Extension {
			if e.URL != fhir.ExtIsArchived {
				ext = append(ext, e)
			}
		}
		d.Extension = ext
		out, _ := json.Marshal(d)
		var v any
		_ = json.Unmarshal(out, &v)
		out, _ = json.Marshal(v) // canonical key order
		return out
	}
	return bytes.Equal(strip(a), strip(b))
}

// applyPatch applies RFC 6902 operations add, remove, replace and test to
// a decoded JSON tree.
func applyPatch(doc any, ops []fhir.PatchOp) (any, error) {
	for i, op := range ops {
		var val any
		if op.Op == "add" || op.Op == "replace" || op.Op == "test" {
			if len(op.Value) == 0 {
				return nil, fmt.Errorf("patch op %d: value required", i)
			}
			if err := json.Unmarshal(op.Value, &val); err != nil {
				return nil, fmt.Errorf("patch op %d: %v", i, err)
			}
		}
		path, err := pointer(op.Path)
		if err != nil {
			return nil, fmt.Errorf("patch op %d: %v", i, err)
		}
		switch op.Op {
		case "test":
			cur, err := get(doc, path)
			if err != nil || !reflect.DeepEqual(cur, val) {
				return nil, fmt.Errorf("patch op %d: test failed at %s", i, op.Path)
			}
		case "add", "replace", "remove":
			doc, err = set(doc, path, val, op.Op)
			if err != nil {
				return nil, fmt.Errorf("patch op %d (%s %s): %v", i, op.Op, op.Path, err)
			}
		default:
			return nil, fmt.Errorf("patch op %d: unsupported op %q", i, op.Op)
		}
	}
	return doc, nil
}

func pointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, errors.New("path must start with /")
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func get(doc any, path []string) (any, error) {
	for _, k := range path {
		switch n := doc.(type) {
		case map[string]any:
			v, ok := n[k]
			if !ok {
				return nil, errors.New("no such member " + k)
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(n) {
				return nil, errors.New("bad index " + k)
			}
			doc = n[i]
		default:
			return nil, errors.New("path goes through a scalar")
		}
	}
	return doc, nil
}

// set performs add, replace or remove at path and returns the new root.
func set(doc any, path []string, val any, op string) (any, error) {
	if len(path) == 0 {
		if op == "remove" {
			return nil, errors.New("cannot remove the root")
		}
		return val, nil
	}
	parent, err := get(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	k := path[len(path)-1]
	switch n := parent.(type) {
	case map[string]any:
		_, exists := n[k]
		if (op == "replace" || op == "remove") && !exists {
			return nil, errors.New("no such member " + k)
		}
		if op == "remove" {
			delete(n, k)
		} else {
			n[k] = val
		}
		return doc, nil
	case []any:
		var arr []any
		switch {
		case k == "-" && op == "add":
			arr = append(n, val)
		default:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i > len(n) || (op != "add" && i == len(n)) {
				return nil, errors.New("bad index " + k)
			}
			switch op {
			case "add":
				arr = append(append(append([]any{}, n[:i]...), val), n[i:]...)
			case "replace":
				n[i] = val
				arr = n
			case "remove":
				arr = append(append([]any{}, n[:i]...), n[i+1:]...)
			}
		}
		return set(doc, path[:len(path)-1], arr, "replace")
	}
	return nil, errors.New("path goes through a scalar")
}
