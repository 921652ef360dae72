package apptest

import (
	"context"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Records is a fake app.RecordService for unit tests that cross from the
// use cases to the central service: each method calls its function field
// when set, and otherwise answers as a record that exists, with the
// practitioner authorised and no documents. Calls are counted by method
// name. (The real client is tested against the sandbox in sync/dmp.)
type Records struct {
	FindPatientFn        func(app.Access, app.INS) (app.RecordStatus, error)
	GrantAuthorizationFn func(app.Access, app.INS) error
	ListDocumentsFn      func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error)
	RetrieveFn           func(app.Access, app.INS, app.RemoteDocument) ([]byte, error)
	ProvideFn            func(app.Access, app.INS, []app.NewDocument) (app.Provided, error)
	UpdateMetadataFn     func(app.Access, app.INS, app.RemoteDocument, app.MetadataChange) (app.RemoteDocument, error)
	DeleteFn             func(app.Access, app.INS, app.RemoteDocument) error
	AccessTracesFn       func(app.Access, app.INS, time.Time) ([]app.AccessTrace, error)

	mu    sync.Mutex
	calls map[string]int
	last  map[string]any // the last query or access of each method
}

var _ app.RecordService = (*Records)(nil)

func (r *Records) count(name string, arg any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls, r.last = map[string]int{}, map[string]any{}
	}
	r.calls[name]++
	r.last[name] = arg
}

// Calls returns how many times method was called.
func (r *Records) Calls(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

// Last returns the last argument of interest given to method (the
// DocumentQuery of ListDocuments, the Access of the others).
func (r *Records) Last(method string) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[method]
}

// FindPatient implements app.RecordService.
func (r *Records) FindPatient(_ context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	r.count("FindPatient", acc)
	if r.FindPatientFn != nil {
		return r.FindPatientFn(acc, ins)
	}
	return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted}, nil
}

// GrantAuthorization implements app.RecordService.
func (r *Records) GrantAuthorization(_ context.Context, acc app.Access, ins app.INS) error {
	r.count("GrantAuthorization", acc)
	if r.GrantAuthorizationFn != nil {
		return r.GrantAuthorizationFn(acc, ins)
	}
	return nil
}

// ListDocuments implements app.RecordService; the fake hands everything in
// one page.
func (r *Records) ListDocuments(_ context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	r.count("ListDocuments", q)
	if r.ListDocumentsFn == nil {
		return nil
	}
	docs, err := r.ListDocumentsFn(acc, ins, q)
	if err != nil {
		return err
	}
	return page(docs)
}

// Retrieve implements app.RecordService.
func (r *Records) Retrieve(_ context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	r.count("Retrieve", acc)
	if r.RetrieveFn != nil {
		return r.RetrieveFn(acc, ins, doc)
	}
	return nil, app.ErrWithdrawn
}

// Provide implements app.RecordService.
func (r *Records) Provide(_ context.Context, acc app.Access, ins app.INS, docs []app.NewDocument) (app.Provided, error) {
	r.count("Provide", acc)
	if r.ProvideFn != nil {
		return r.ProvideFn(acc, ins, docs)
	}
	var out app.Provided
	for _, d := range docs {
		out.Documents = append(out.Documents, app.RemoteDocument{Meta: d.Meta, Status: "current", VersionID: "1"})
	}
	return out, nil
}

// UpdateMetadata implements app.RecordService.
func (r *Records) UpdateMetadata(_ context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument, ch app.MetadataChange) (app.RemoteDocument, error) {
	r.count("UpdateMetadata", acc)
	if r.UpdateMetadataFn != nil {
		return r.UpdateMetadataFn(acc, ins, doc, ch)
	}
	return doc, nil
}

// Delete implements app.RecordService.
func (r *Records) Delete(_ context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) error {
	r.count("Delete", acc)
	if r.DeleteFn != nil {
		return r.DeleteFn(acc, ins, doc)
	}
	return nil
}

// AccessTraces implements app.RecordService.
func (r *Records) AccessTraces(_ context.Context, acc app.Access, ins app.INS, since time.Time) ([]app.AccessTrace, error) {
	r.count("AccessTraces", acc)
	if r.AccessTracesFn != nil {
		return r.AccessTracesFn(acc, ins, since)
	}
	return nil, nil
}
