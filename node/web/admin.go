package web

// 管理 (county administrator): the catalog, delegations, accounts and
// units, each page a view of the API calls an administrator makes from the
// command line (catalog import, delegation grant/revoke, account add/update,
// unit set). Every page takes the access rule of the administrator's call it
// offers, so a worker gets the 403 page, as the API answers.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/node/rpc"
	"github.com/jiujin/jiujin/node/store"
)

// maxCatalogBytes bounds an uploaded catalog file (the seed catalog of 79
// matters is about 40 KB).
const maxCatalogBytes = 1 << 20

// uploadPage is page for a form that carries a file or a long text
// (multipart/form-data, or url-encoded): the same authorization and CSRF
// check, with a body of up to maxCatalogBytes and a little more for the
// other fields.
func (c *Console) uploadPage(procedure string, h func(q *request) error) http.HandlerFunc {
	return c.serve(procedure, maxCatalogBytes+maxFormBytes, true, h)
}

// --- 管理首页

type adminData struct {
	CatalogVersion                        uint64
	CatalogTitle                          string
	Matters, Delegations, Accounts, Units int
	Classes, Orders, Negative             int
}

func (c *Console) adminIndex(q *request) error {
	d := adminData{}
	ms, err := c.cfg.Service.ListMatters(q.ctx(), connect.NewRequest(&pb.ListMattersRequest{}))
	if err != nil {
		return err
	}
	d.CatalogVersion, d.CatalogTitle, d.Matters = ms.Msg.GetVersion(), ms.Msg.GetTitle(), len(ms.Msg.GetMatters())
	ds, err := c.cfg.Service.ListDelegations(q.ctx(), connect.NewRequest(&pb.ListDelegationsRequest{}))
	if err != nil {
		return err
	}
	d.Delegations = len(ds.Msg.GetDelegations())
	as, err := c.cfg.Service.ListAccounts(q.ctx(), connect.NewRequest(&pb.ListAccountsRequest{}))
	if err != nil {
		return err
	}
	d.Accounts = len(as.Msg.GetAccounts())
	us, err := c.cfg.Service.ListUnits(q.ctx(), connect.NewRequest(&pb.ListUnitsRequest{}))
	if err != nil {
		return err
	}
	d.Units = len(us.Msg.GetUnits())
	cs, err := c.cfg.Service.ListClasses(q.ctx(), connect.NewRequest(&pb.ListClassesRequest{}))
	if err != nil {
		return err
	}
	d.Classes, d.Orders = len(cs.Msg.GetClasses()), len(cs.Msg.GetOrders())
	nl, err := c.cfg.Service.GetNegativeList(q.ctx(), connect.NewRequest(&pb.GetNegativeListRequest{}))
	if err != nil {
		return err
	}
	d.Negative = len(nl.Msg.GetList().GetEntries())
	c.render(q.w, q, http.StatusOK, "admin", "管理", d, nil, "")
	return nil
}

// --- 事项清单

// catalogData is the catalog in force and, after an upload, what
// publishing the file would change.
type catalogData struct {
	Version     uint64
	Title       string
	Departments []*pb.Department
	Matters     []*pb.Matter
	// Published is the version just published (after the redirect).
	Published string
	Preview   *catalogPreview
}

type catalogPreview struct {
	// The file as uploaded, carried to the confirmation and checked again.
	YAML, FileName string
	Title          string
	Diff           *pb.ImportCatalogResponse
	// InForce is how many matters are in force now; WithdrawMany: the file
	// withdraws more than a third of them, which needs an explicit tick.
	InForce      int
	WithdrawMany bool
	AllowMany    bool
	Changes      bool
}

func (c *Console) catalogInForce(q *request) (catalogData, error) {
	res, err := c.cfg.Service.ListMatters(q.ctx(), connect.NewRequest(&pb.ListMattersRequest{}))
	if err != nil {
		return catalogData{}, err
	}
	return catalogData{Version: res.Msg.GetVersion(), Title: res.Msg.GetTitle(), Departments: res.Msg.GetDepartments(),
		Matters: res.Msg.GetMatters()}, nil
}

func (c *Console) adminCatalog(q *request) error {
	d, err := c.catalogInForce(q)
	if err != nil {
		return err
	}
	if v, err := strconv.ParseUint(q.r.URL.Query().Get("published"), 10, 64); err == nil && v > 0 {
		d.Published = strconv.FormatUint(v, 10)
	}
	c.render(q.w, q, http.StatusOK, "admin_catalog", "事项清单", d, nil, "")
	return nil
}

// catalogUpload reads the catalog of the form: the uploaded file, or the
// text carried from the preview.
func catalogUpload(q *request) (text, name string, err error) {
	if q.r.MultipartForm != nil {
		if fhs := q.r.MultipartForm.File["file"]; len(fhs) > 0 {
			fh := fhs[0]
			if fh.Size > maxCatalogBytes {
				return "", fh.Filename, store.Invalid("file", "文件超过 %d KiB", maxCatalogBytes>>10)
			}
			f, err := fh.Open()
			if err != nil {
				return "", fh.Filename, store.Invalid("file", "无法读取上传的文件")
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxCatalogBytes+1))
			if err != nil || len(b) > maxCatalogBytes {
				return "", fh.Filename, store.Invalid("file", "无法读取上传的文件，或文件超过 %d KiB", maxCatalogBytes>>10)
			}
			if len(b) > 0 {
				return string(b), fh.Filename, nil
			}
		}
	}
	text, name = q.r.PostForm.Get("yaml"), q.r.PostForm.Get("file_name")
	if strings.TrimSpace(text) == "" {
		return "", name, store.Invalid("file", "请选择事项清单文件（YAML，与 deploy/seed/catalog.yaml 同格式）")
	}
	if len(text) > maxCatalogBytes {
		return "", name, store.Invalid("file", "文件超过 %d KiB", maxCatalogBytes>>10)
	}
	return text, name, nil
}

// catalogPreview answers an upload with what publishing it would change;
// catalogPublish publishes the file carried from the preview, checked
// again, and shows the preview with the reason where it is refused.
func (c *Console) catalogPreview(q *request) error { return c.catalogImport(q, false) }

func (c *Console) catalogPublish(q *request) error { return c.catalogImport(q, true) }

func (c *Console) catalogImport(q *request, publish bool) error {
	d, err := c.catalogInForce(q)
	if err != nil {
		return err
	}
	text, name, err := catalogUpload(q)
	refuse := func(err error) error {
		field, msg := adminField(err)
		if field == "" || publish && field != "allow_withdraw_many" {
			field = "file"
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_catalog", "事项清单", d, map[string]string{field: msg}, "")
		return nil
	}
	if err != nil {
		return refuse(err)
	}
	req, err := delegation.ParseCatalogYAML(bytes.NewReader([]byte(text)))
	if err != nil {
		return refuse(store.Invalid("file", "%s", strings.TrimPrefix(err.Error(), delegation.ErrInvalidCatalog.Error()+": ")))
	}
	allow := q.r.PostForm.Get("allow_withdraw_many") == "1"
	req.DryRun, req.AllowWithdrawMany = true, allow
	diff, err := c.cfg.Service.ImportCatalog(q.ctx(), connect.NewRequest(req))
	if err != nil {
		if statusOf(rpc.ConnectError(err)) != http.StatusBadRequest {
			return err
		}
		return refuse(err)
	}
	m := diff.Msg
	p := &catalogPreview{YAML: text, FileName: name, Title: req.GetTitle(), Diff: m, AllowMany: allow,
		InForce: int(m.GetChanged() + m.GetUnchanged() + m.GetRemoved()),
		Changes: m.GetAdded()+m.GetChanged()+m.GetRemoved() > 0 || req.GetTitle() != d.Title}
	p.WithdrawMany = int(m.GetRemoved())*3 > p.InForce
	d.Preview = p
	if !publish {
		c.render(q.w, q, http.StatusOK, "admin_catalog", "事项清单：核对变化", d, nil, "")
		return nil
	}
	req.DryRun = false
	res, err := c.cfg.Service.ImportCatalog(q.ctx(), connect.NewRequest(req))
	if err != nil {
		if statusOf(rpc.ConnectError(err)) != http.StatusBadRequest {
			return err
		}
		field, msg := adminField(err)
		if field == "allow_withdraw_many" {
			p.WithdrawMany = true
			msg = fmt.Sprintf("这份清单将撤销现行 %d 个事项中的 %d 个（超过三分之一）：若确是如此，请勾选“确认撤销”后再发布；若只想更新部分事项，请上传完整的清单",
				p.InForce, m.GetRemoved())
		} else {
			field = "file"
		}
		c.render(q.w, q, http.StatusBadRequest, "admin_catalog", "事项清单：核对变化", d, map[string]string{field: msg}, "")
		return nil
	}
	http.Redirect(q.w, q.r, "/admin/catalog?published="+strconv.FormatUint(res.Msg.GetVersion(), 10), http.StatusSeeOther)
	return nil
}

// adminField is the form field an API error concerns, and its message in
// Chinese: the rules' field errors, and the delegation checks' "unit: …"
// style errors, by the field of the forms of the 管理 pages.
func adminField(err error) (string, string) {
	field, msg := formField(err)
	if field == "" && (errors.Is(err, delegation.ErrInvalidDelegation) || errors.Is(err, delegation.ErrDelegationConflict)) {
		for _, s := range []error{delegation.ErrInvalidDelegation, delegation.ErrDelegationConflict} {
			if i := strings.Index(msg, s.Error()+": "); i >= 0 {
				msg = msg[i+len(s.Error())+2:]
			}
		}
		if f, rest, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(f, " （") {
			field, msg = f, rest
		}
	}
	if _, rest, ok := strings.Cut(field, "]."); ok && strings.HasPrefix(field, "units[") {
		field = rest // SetUnits names units[0].name
	}
	switch field {
	case "matter_code":
		field = "matter"
	case "accepting_unit":
		field = "unit"
	case "reset_password":
		field = "password"
	}
	return field, msg
}
