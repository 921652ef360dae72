package xds

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The EEDS delta pattern (reference §7, EEDS exemples_usage_dmp.md): a
// later visit does not list the whole record again. It asks for the
// submission sets registered since the last call (FindSubmissionSets with
// $XDSSubmissionSetSubmissionTimeFrom), their members (GetAssociations,
// HasMember), then those documents with their associations
// (GetDocumentsAndAssociations, in batches of DeltaBatch), follows the RPLC
// associations to the uniqueIds they replace, and deduplicates by uniqueId.
// A metadata update (ITI-57: mask, visibility) is a submission set too, so
// the delta sees it.

// Stored query ids of the delta (IHE ITI TF-2a 3.18.4.1.2.3.7).
const (
	QueryFindSubmissionSets          = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
	QueryGetAssociations             = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
	QueryGetDocumentsAndAssociations = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
)

// DeltaBatch is how many entryUUIDs one GetDocumentsAndAssociations asks
// for ("appelé par batch de 20", EEDS). An open question (§14.12): the
// DMP's own limit is not public.
const DeltaBatch = 20

// FindSubmissionSetsQuery builds the delta's first query: the approved
// submission sets of ins registered at or after since (ObjectRef: only
// their ids are needed).
func FindSubmissionSetsQuery(ins app.INS, since time.Time) Query {
	return Query{ID: QueryFindSubmissionSets, ObjectRefs: true, Slots: []Slot{
		{Name: "$XDSSubmissionSetPatientId", Values: []string{quote(PatientID(ins))}},
		{Name: "$XDSSubmissionSetSubmissionTimeFrom", Values: []string{hl7Time(since)}},
		{Name: "$XDSSubmissionSetStatus", Values: []string{quoteList([]string{StatusApproved})}},
	}}
}

// GetAssociationsQuery builds GetAssociations for the objects uuids.
func GetAssociationsQuery(uuids []string) Query {
	return Query{ID: QueryGetAssociations, Slots: []Slot{{Name: "$uuid", Values: quoteLists(uuids)}}}
}

// GetDocumentsAndAssociationsQuery builds GetDocumentsAndAssociations for
// the document entries entryUUIDs.
func GetDocumentsAndAssociationsQuery(entryUUIDs []string) Query {
	return Query{ID: QueryGetDocumentsAndAssociations, Slots: []Slot{
		{Name: "$XDSDocumentEntryEntryUUID", Values: quoteLists(entryUUIDs)}}}
}

// GetDocumentsByUUIDQuery builds GetDocuments by entryUUID (to resolve the
// uniqueId of a replaced version that the delta did not bring).
func GetDocumentsByUUIDQuery(entryUUIDs []string) Query {
	return Query{ID: QueryGetDocuments, Slots: []Slot{
		{Name: "$XDSDocumentEntryEntryUUID", Values: quoteLists(entryUUIDs)}}}
}

// maxValue is the longest rim:Value the ebRIM schema allows
// (LongName, 256 characters).
const maxValue = 256

// quoteLists returns ss as ('a','b') lists of at most maxValue characters
// each: a multi-valued parameter may span several rim:Value elements (IHE
// ITI TF-2a 3.18.4.1.2.3.5), and one Value holds only five UUIDs.
func quoteLists(ss []string) []string {
	var out, cur []string
	n := 2
	for _, s := range ss {
		q := len(quote(s)) + 1
		if len(cur) > 0 && n+q > maxValue {
			out = append(out, quoteList(cur))
			cur, n = nil, 2
		}
		cur = append(cur, s)
		n += q
	}
	if len(cur) > 0 {
		out = append(out, quoteList(cur))
	}
	return out
}

// listDelta lists what changed in the record of ins since since (the EEDS
// delta pattern above), keeping the entries whose status is in want (all
// when want is empty) and, as FindDocuments would, acts since actSince and
// of the given types.
func (c *Client) listDelta(ctx context.Context, acc app.Access, ins app.INS, since, actSince time.Time, types []string, want map[string]bool) ([]app.RemoteDocument, error) {
	sets, err := c.query(ctx, acc, ins, FindSubmissionSetsQuery(ins, since))
	if err != nil {
		return nil, fmt.Errorf("find submission sets: %w", err)
	}
	if len(sets.ObjectRefs) == 0 {
		return nil, nil
	}
	isSet := map[string]bool{}
	for _, id := range sets.ObjectRefs {
		isSet[id] = true
	}
	assoc, err := c.query(ctx, acc, ins, GetAssociationsQuery(sets.ObjectRefs))
	if err != nil {
		return nil, fmt.Errorf("get associations: %w", err)
	}
	var members []string
	seen := map[string]bool{}
	for _, a := range assoc.Associations {
		if a.Type == AssocHasMember && isSet[a.Source] && !isSet[a.Target] && !seen[a.Target] {
			seen[a.Target] = true
			members = append(members, a.Target)
		}
	}
	var entries []Entry
	var assocs []Association
	for i := 0; i < len(members); i += DeltaBatch {
		res, err := c.query(ctx, acc, ins, GetDocumentsAndAssociationsQuery(members[i:min(i+DeltaBatch, len(members))]))
		if err != nil {
			return nil, fmt.Errorf("get documents and associations: %w", err)
		}
		entries = append(entries, res.Entries...)
		assocs = append(assocs, res.Associations...)
	}
	// RPLC: the uniqueId each new version replaces, asked for when the
	// replaced entry is not among the delta's.
	uid := map[string]string{}
	for _, e := range entries {
		uid[e.EntryUUID] = e.UniqueID
	}
	var missing []string
	for _, a := range assocs {
		if a.Type == AssocRPLC && seen[a.Source] && uid[a.Target] == "" && !seen[a.Target] {
			seen[a.Target] = true
			missing = append(missing, a.Target)
		}
	}
	for i := 0; i < len(missing); i += DeltaBatch {
		res, err := c.query(ctx, acc, ins, GetDocumentsByUUIDQuery(missing[i:min(i+DeltaBatch, len(missing))]))
		if err != nil {
			return nil, fmt.Errorf("get replaced documents: %w", err)
		}
		for _, e := range res.Entries {
			uid[e.EntryUUID] = e.UniqueID
		}
	}
	repl := map[string]string{}
	for _, a := range assocs {
		if a.Type == AssocRPLC && uid[a.Target] != "" {
			repl[a.Source] = uid[a.Target]
		}
	}
	wantType := map[string]bool{}
	for _, t := range types {
		wantType[t] = true
	}
	// Deduplicate by uniqueId: the current version over a deprecated one,
	// then the highest version.
	best := map[string]int{}
	var out []app.RemoteDocument
	for _, e := range entries {
		if (len(want) > 0 && !want[e.Status]) || (len(wantType) > 0 && !wantType[e.TypeCode]) ||
			(!actSince.IsZero() && !e.ActEnd().IsZero() && e.ActEnd().Before(actSince)) {
			continue
		}
		d := e.RemoteDocument(app.DocumentID(repl[e.EntryUUID]))
		if i, ok := best[e.UniqueID]; ok {
			if newerEntry(d, out[i]) {
				out[i] = d
			}
			continue
		}
		best[e.UniqueID] = len(out)
		out = append(out, d)
	}
	return out, nil
}

// newerEntry says whether a is a better current reading of a document than
// b: not superseded when b is, else a higher metadata version.
func newerEntry(a, b app.RemoteDocument) bool {
	if a.Meta.Superseded != b.Meta.Superseded {
		return !a.Meta.Superseded
	}
	va, _ := strconv.Atoi(a.VersionID)
	vb, _ := strconv.Atoi(b.VersionID)
	return va > vb
}
