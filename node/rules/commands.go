package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/store"
	"github.com/jiujin/jiujin/tiers"
)

// Execute is the one place a command becomes events: the store calls it
// for every command that is not its own (sync batches, a group's identity),
// on a node alone and on every member of a county group alike.
func (s *Rules) Execute(w *store.Tx, cmd *pb.Command) (proto.Message, error) {
	if err := checkText("actor", cmd.GetActor(), maxNameRunes, false); err != nil {
		return nil, err
	}
	switch op := cmd.GetOp().(type) {
	case *pb.Command_ImportCatalog:
		return s.importCatalog(w, cmd, op.ImportCatalog)
	case *pb.Command_Accept:
		return s.accept(w, cmd, op.Accept)
	case *pb.Command_RequestSupplement:
		return s.transition(w, cmd, op.RequestSupplement.GetId(), KindAppSupplementRequest,
			&pb.AppSupplementRequested{Materials: op.RequestSupplement.GetMaterials(), Reason: op.RequestSupplement.GetReason()})
	case *pb.Command_Supply:
		return s.supply(w, cmd, op.Supply)
	case *pb.Command_Decide:
		return s.decide(w, cmd, op.Decide)
	case *pb.Command_Deliver:
		return s.transition(w, cmd, op.Deliver.GetId(), KindAppDelivered,
			&pb.AppDelivered{Method: op.Deliver.GetMethod(), Tracking: strings.TrimSpace(op.Deliver.GetTracking())})
	case *pb.Command_Rate:
		out, err := s.transition(w, cmd, op.Rate.GetId(), KindAppRated,
			&pb.AppRated{Score: op.Rate.GetScore(), Comment: op.Rate.GetComment()})
		if err != nil {
			return nil, err
		}
		// 差评: a follow-up opens in the same transaction.
		return out, s.openFollowUp(w, cmd, out.(*pb.Application))
	case *pb.Command_Withdraw:
		a, err := s.appForWrite(w, op.Withdraw.GetId())
		if err != nil {
			return nil, err
		}
		if a.GetHolder() != string(s.unit) && a.GetAcceptingUnit() == string(s.unit) {
			// The applicant is at this window; the holder is elsewhere.
			return s.makeRequest(w, cmd, a, RequestWithdraw, op.Withdraw.GetReason(), nil)
		}
		return s.transition(w, cmd, op.Withdraw.GetId(), KindAppWithdrawn,
			&pb.AppWithdrawn{Reason: op.Withdraw.GetReason()})
	case *pb.Command_Reveal:
		return s.reveal(w, cmd, op.Reveal)
	case *pb.Command_Grant:
		return s.grant(w, cmd, op.Grant)
	case *pb.Command_Revoke:
		return s.revoke(w, cmd, op.Revoke)
	case *pb.Command_Forward:
		return s.forward(w, cmd, op.Forward)
	case *pb.Command_FollowUp:
		return s.updateFollowUp(w, cmd, op.FollowUp)
	case *pb.Command_Sweep:
		return s.sweep(w, cmd)
	case *pb.Command_SetClass:
		return s.setClass(w, cmd, op.SetClass)
	case *pb.Command_Order:
		return s.order(w, cmd, op.Order)
	case *pb.Command_SetNegative:
		return s.setNegative(w, cmd, op.SetNegative)
	case *pb.Command_PutAccount:
		return s.putAccount(w, cmd, op.PutAccount)
	case *pb.Command_SetPassword:
		return s.setPassword(w, cmd, op.SetPassword)
	case *pb.Command_SignIn:
		return s.signIn(w, cmd, op.SignIn, true)
	case *pb.Command_SignInFailed:
		return s.signIn(w, cmd, op.SignInFailed, false)
	case *pb.Command_RevokeCertificate:
		return s.revokeCertificate(w, cmd, op.RevokeCertificate)
	case *pb.Command_Enroll:
		return s.enroll(w, cmd, op.Enroll)
	case *pb.Command_AnswerEnrollment:
		return s.answerEnrollment(w, cmd, op.AnswerEnrollment)
	case *pb.Command_BackupTaken:
		return s.backupTaken(w, cmd, op.BackupTaken)
	case *pb.Command_SetUnits:
		return s.setUnits(w, cmd, op.SetUnits)
	case *pb.Command_Refuse:
		return s.refuse(w, cmd, op.Refuse)
	}
	return nil, invalid("command.op", "未知的命令")
}

// appScope is where an application's events travel: the accepting unit,
// the processing unit, every unit on the path between them, and the county.
func appScope(accepting, processing tiers.Unit) *pb.Scope {
	seen := map[tiers.Unit]bool{}
	var units []string
	add := func(u tiers.Unit) {
		if u != "" && !seen[u] {
			seen[u] = true
			units = append(units, string(u))
		}
	}
	for _, u := range tiers.Path(accepting, processing) {
		add(u)
	}
	add(accepting.County())
	return &pb.Scope{Units: units}
}

func (s *Rules) importCatalog(w *store.Tx, cmd *pb.Command, req *pb.ImportCatalogRequest) (proto.Message, error) {
	if s.unit.Tier() != tiers.County {
		return nil, precondition("unit", "事项清单只能在县级节点发布，本节点是%s单位 %s", s.unit.Tier().Label(), s.unit)
	}
	if err := delegation.ValidateCatalog(req); err != nil {
		return nil, err
	}
	catRec, err := w.Record(recCatalog)
	if err != nil {
		return nil, err
	}
	cat := &pb.CatalogRecord{}
	if catRec != nil {
		if cat, err = decodeRecord(catRec, cat); err != nil {
			return nil, err
		}
	}
	version := cat.GetVersion() + 1
	deptNames := map[string]string{}
	for _, d := range req.GetDepartments() {
		deptNames[d.GetCode()] = d.GetName()
	}
	res := &pb.ImportCatalogResponse{Version: version, DryRun: req.GetDryRun()}
	ref := func(m *pb.Matter) *pb.MatterRef { return &pb.MatterRef{Code: m.GetCode(), Name: m.GetName()} }
	pub := &pb.CatalogPublished{Version: version, Title: req.GetTitle(), Departments: req.GetDepartments()}
	listed := map[string]bool{}
	scope := &pb.Scope{Subtrees: []string{string(s.unit)}}
	var events []*pb.Event
	for _, m := range req.GetMatters() {
		listed[m.GetCode()] = true
		old, err := w.Record(matterKey(m.GetCode()))
		if err != nil {
			return nil, err
		}
		m = proto.Clone(m).(*pb.Matter)
		m.DepartmentName = deptNames[m.GetDepartment()]
		if old != nil {
			om, err := decodeRecord(old, &pb.Matter{})
			if err != nil {
				return nil, err
			}
			if !isWithdrawnMatter(om) && delegation.SameMatter(om, m) && om.GetDepartmentName() == m.GetDepartmentName() {
				res.Unchanged++
				continue
			}
			if isWithdrawnMatter(om) {
				pub.Added, res.AddedMatters = append(pub.Added, m.GetCode()), append(res.AddedMatters, ref(m))
			} else {
				pub.Changed, res.ChangedMatters = append(pub.Changed, m.GetCode()), append(res.ChangedMatters, ref(m))
			}
		} else {
			pub.Added, res.AddedMatters = append(pub.Added, m.GetCode()), append(res.AddedMatters, ref(m))
		}
		m.CatalogVersion = version
		events = append(events, &pb.Event{Kind: KindMatterPublished, RecordKey: matterKey(m.GetCode()), Payload: mustMarshal(&pb.MatterChanged{Matter: m}), Scope: scope})
	}
	inForce := 0
	err = scanRecordsW(w, recMatter, func(key string, rec *pb.StoredRecord) error {
		m, err := decodeRecord(rec, &pb.Matter{})
		if err != nil {
			return err
		}
		if !isWithdrawnMatter(m) {
			inForce++
		}
		if !listed[m.GetCode()] && !isWithdrawnMatter(m) {
			pub.Removed, res.RemovedMatters = append(pub.Removed, m.GetCode()), append(res.RemovedMatters, ref(m))
			events = append(events, &pb.Event{Kind: KindMatterWithdrawn, RecordKey: key,
				Payload: mustMarshal(&pb.MatterChanged{Matter: &pb.Matter{Code: m.GetCode(), CatalogVersion: version}}), Scope: scope})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Added, res.Changed, res.Removed = uint32(len(pub.Added)), uint32(len(pub.Changed)), uint32(len(pub.Removed))
	if req.GetDryRun() {
		return res, nil
	}
	if n := len(pub.Removed); n*3 > inForce && !req.GetAllowWithdrawMany() {
		return nil, precondition("allow_withdraw_many", "这份清单将撤销现行 %d 个事项中的 %d 个（超过三分之一）：若确是如此，请加 --allow-withdraw-many；若只想更新部分事项，请导入完整的清单",
			inForce, n)
	}
	if len(events) == 0 && cat.GetTitle() == req.GetTitle() && catRec != nil && proto.Equal(&pb.CatalogRecord{Departments: cat.GetDepartments()}, &pb.CatalogRecord{Departments: req.GetDepartments()}) {
		res.Version = cat.GetVersion()
		return res, nil // nothing changed: no new version
	}
	events = append(events, &pb.Event{Kind: KindCatalogPublished, RecordKey: recCatalog, Payload: mustMarshal(pub), Scope: scope})
	for _, ev := range events {
		if _, err := w.Emit(cmd, ev); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// scanRecordsW lists records by prefix as the writer sees them. Staged
// writes of the running command are not included, which is fine for its one
// caller (the catalog import reads matters before it writes any).
func scanRecordsW(w *store.Tx, prefix string, fn func(key string, rec *pb.StoredRecord) error) error {
	return w.Committed().Scan(prefix, false, func(key string, rec *pb.StoredRecord) (bool, error) {
		return true, fn(key, rec)
	})
}

var mustMarshal = store.MustMarshal

var phoneRE = regexp.MustCompile(`^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$`)

// matter is a matter in force, as this write sees it. It may come from
// the hot cache and is then shared: callers must not modify it.
func (s *Rules) matter(w *store.Tx, code string) (*pb.Matter, error) {
	staged := w.Staged(matterKey(code))
	m, ok := s.hot.matter(code)
	if staged || !ok {
		rec, err := w.Record(matterKey(code))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, notFound("matter_code", "事项 %q 不在事项清单中", code)
		}
		if m, err = decodeRecord(rec, &pb.Matter{}); err != nil {
			return nil, err
		}
		if !staged {
			s.hot.setMatter(code, m)
		}
	}
	if isWithdrawnMatter(m) {
		return nil, notFound("matter_code", "事项 %q 已于清单第 %d 版撤销", code, m.GetCatalogVersion())
	}
	return m, nil
}

// checkApplication checks what a window fills in, wherever an application
// comes from (a window's command, or a child's app.accepted event): the
// applicant's name, identity number (as of now) and phone, the note, the
// materials' names. It returns the identity number as stored.
func checkApplication(ap *pb.Applicant, note string, materials, missing []string, now time.Time) (string, error) {
	if err := checkText("applicant.name", ap.GetName(), maxNameRunes, true); err != nil {
		return "", err
	}
	id, err := ValidateIDNumber(ap.GetIdNumber(), now)
	if err != nil {
		return "", err
	}
	if ap.GetPhone() != "" && !phoneRE.MatchString(ap.GetPhone()) {
		return "", invalid("applicant.phone", "联系电话 %q 格式不正确", ap.GetPhone())
	}
	if err := checkText("note", note, maxNoteRunes, false); err != nil {
		return "", err
	}
	if err := checkMaterialNames("materials", materials, false); err != nil {
		return "", err
	}
	if err := checkMaterialNames("missing", missing, false); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Rules) accept(w *store.Tx, cmd *pb.Command, req *pb.AcceptApplicationRequest) (proto.Message, error) {
	if w.Restored() {
		return nil, precondition("unit", "本节点数据刚从备份恢复，正在与上级同步，同步完成前暂不受理（以免办件编号重复）")
	}
	if req.GetMatterCode() == "" {
		return nil, invalid("matter_code", "请指定事项编码")
	}
	m, err := s.matter(w, req.GetMatterCode())
	if err != nil {
		return nil, err
	}
	if err := s.mayAccept(w, m.GetCode(), time.UnixMilli(cmd.GetNowMs())); err != nil {
		return nil, err
	}
	ap := req.GetApplicant()
	now := time.UnixMilli(cmd.GetNowMs())
	id, err := checkApplication(ap, req.GetNote(), req.GetMaterials(), req.GetMissing(), now)
	if err != nil {
		return nil, err
	}
	byName := map[string]*pb.Material{}
	var names []string
	for _, mat := range m.GetMaterials() {
		byName[mat.GetName()] = mat
		names = append(names, mat.GetName())
	}
	for i, n := range req.GetMaterials() {
		if byName[n] == nil {
			return nil, invalid(fmt.Sprintf("materials[%d]", i), "材料 %q 不在事项 %s 的材料清单中%s", n, m.GetCode(), suggestion(n, names))
		}
	}
	for i, n := range req.GetMissing() {
		f := fmt.Sprintf("missing[%d]", i)
		switch mat := byName[n]; {
		case mat == nil:
			return nil, invalid(f, "材料 %q 不在事项 %s 的材料清单中%s", n, m.GetCode(), suggestion(n, names))
		case slices.Contains(req.GetMaterials(), n):
			return nil, invalid(f, "材料 %q 已收到，不能同时列为缺失", n)
		case !mat.GetMayBeMissing():
			return nil, precondition(f, "材料 %q 不允许容缺受理，须当场提交", n)
		}
	}
	var lacking []string
	for _, mat := range m.GetMaterials() {
		if mat.GetRequired() && !slices.Contains(req.GetMaterials(), mat.GetName()) && !slices.Contains(req.GetMissing(), mat.GetName()) {
			lacking = append(lacking, mat.GetName())
		}
	}
	if len(lacking) > 0 {
		return nil, precondition("materials", "缺少必要材料：%s（一次告知：请申请人备齐后再来，或对可容缺材料用 --missing 容缺受理）", strings.Join(lacking, "、"))
	}
	day := now.In(delegation.China).Format("20060102")
	n, err := w.NextCounter("app/" + string(s.unit) + "/" + day)
	if err != nil {
		return nil, err
	}
	if n > 999999 {
		return nil, precondition("id", "本单位今日受理已超过 999999 件")
	}
	// Six digits keep ids of one day in key order (newest-first lists).
	appID := fmt.Sprintf("%s-%s-%06d", s.unit, day, n)
	// The county department that owns the matter decides, unless it has
	// devolved or entrusted the power to the township over this unit.
	processing, del, err := s.route(w, m.GetCode(), now)
	if err != nil {
		return nil, err
	}
	a := &pb.Application{
		Id:                appID,
		MatterCode:        m.GetCode(),
		MatterName:        m.GetName(),
		Department:        m.GetDepartment(),
		Applicant:         &pb.Applicant{Name: ap.GetName(), IdNumber: id, Phone: ap.GetPhone()},
		AcceptingUnit:     string(s.unit),
		ProcessingUnit:    string(processing),
		Holder:            string(s.unit),
		State:             StateAccepted,
		MaterialsReceived: req.GetMaterials(),
		MaterialsMissing:  req.GetMissing(),
		StatutoryDays:     m.GetStatutoryDays(),
		PromisedDays:      m.GetPromisedDays(),
		SupplementDays:    m.GetSupplementDays(),
		Note:              req.GetNote(),
		Parts:             m.GetParts(),
		DelegationId:      del.GetId(),
		RouteMode:         del.GetMode(),
		Visits:            proto.Uint32(m.GetVisits()),
	}
	scope := appScope(s.unit, processing)
	rec, err := w.Emit(cmd, &pb.Event{Kind: KindAppAccepted, RecordKey: appKey(appID),
		Payload: mustMarshal(&pb.AppAccepted{Application: a}), Scope: scope})
	if err != nil {
		return nil, err
	}
	if len(a.GetParts()) > 0 {
		// 一件事: one task per part, each to the unit that decides it.
		if err := s.createTasks(w, cmd, a, now); err != nil {
			return nil, err
		}
	}
	if processing != s.unit {
		// Decided elsewhere: forward at once, in the same transaction.
		rec, err = w.Emit(cmd, &pb.Event{Kind: KindAppForwarded, RecordKey: appKey(appID), Actor: store.SystemActor,
			Payload: mustMarshal(&pb.AppRouted{ToUnit: string(processing)}), Scope: scope})
		if err != nil {
			return nil, err
		}
	}
	return appFromRecord(rec)
}

// appForWrite loads an application the command will change.
func (s *Rules) appForWrite(w *store.Tx, id string) (*pb.Application, error) {
	if id == "" {
		return nil, invalid("id", "请指定办件编号")
	}
	rec, err := w.Record(appKey(id))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("id", "办件 %q 不存在", id)
	}
	return decodeRecord(rec, &pb.Application{})
}

func (s *Rules) transition(w *store.Tx, cmd *pb.Command, id, kind string, payload proto.Message) (proto.Message, error) {
	a, err := s.appForWrite(w, id)
	if err != nil {
		return nil, err
	}
	rec, err := w.Emit(cmd, &pb.Event{Kind: kind, RecordKey: appKey(id), Payload: mustMarshal(payload),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	if err != nil {
		return nil, err
	}
	if len(a.GetParts()) > 0 && suppliesMaterials(kind) {
		// The parts may all have been decided while materials were
		// awaited: the application is decided now.
		if err := s.maybeJoin(w, cmd, id); err != nil {
			return nil, err
		}
		return s.appForWrite(w, id)
	}
	return appFromRecord(rec)
}

// suppliesMaterials: an event of this kind hands in materials an
// application waited for (a supplement, or 容缺 materials).
func suppliesMaterials(kind string) bool {
	return kind == KindAppSupplemented || kind == KindAppMaterialsSupplied
}

// decide decides an application, or one part of a composite application.
func (s *Rules) decide(w *store.Tx, cmd *pb.Command, req *pb.DecideApplicationRequest) (proto.Message, error) {
	if req.GetPart() != "" {
		return s.decideTask(w, cmd, req)
	}
	a, err := s.appForWrite(w, req.GetId())
	if err != nil {
		return nil, err
	}
	if len(a.GetParts()) > 0 {
		return nil, precondition("part", "一件事由各部门分别办结子事项（%s），全部办结后自动汇总", strings.Join(a.GetParts(), "、"))
	}
	return s.transition(w, cmd, req.GetId(), KindAppDecided, &pb.AppDecided{Approved: req.GetApprove(), Reason: req.GetReason()})
}

// supply answers a supplement request, or supplies materials accepted as
// missing (容缺), whichever the application is waiting for.
func (s *Rules) supply(w *store.Tx, cmd *pb.Command, req *pb.SupplyMaterialsRequest) (proto.Message, error) {
	a, err := s.appForWrite(w, req.GetId())
	if err != nil {
		return nil, err
	}
	if a.GetHolder() != string(s.unit) && a.GetAcceptingUnit() == string(s.unit) {
		// Materials handed in at this window for an application held
		// elsewhere: ask the holder to record them.
		return s.makeRequest(w, cmd, a, RequestSupply, "", req.GetMaterials())
	}
	kind := KindAppMaterialsSupplied
	if a.GetState() == StateSupplementRequested {
		kind = KindAppSupplemented
	}
	return s.transition(w, cmd, req.GetId(), kind, &pb.AppSupplied{Materials: req.GetMaterials()})
}

func (s *Rules) reveal(w *store.Tx, cmd *pb.Command, req *pb.RevealAudit) (proto.Message, error) {
	a, err := s.appForWrite(w, req.GetApplicationId())
	if err != nil {
		return nil, err
	}
	if err := checkText("reveal_reason", req.GetReason(), maxReasonRunes, true); err != nil {
		return nil, invalid("reveal_reason", "查看完整身份证号须说明理由（将记入审计）")
	}
	_, err = w.Emit(cmd, &pb.Event{Kind: KindAuditIdentityRevealed, RecordKey: auditKey(a.GetId()), Payload: mustMarshal(req),
		Scope: appScope(tiers.Unit(a.GetAcceptingUnit()), tiers.Unit(a.GetProcessingUnit()))})
	if err != nil {
		return nil, err
	}
	return a, nil
}
