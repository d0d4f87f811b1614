package cli

// dueDate prints a due date, marked 暂定 when it was counted on a
// provisional calendar year (it may move when the official notice comes).
func dueDate(date string, provisional bool) string {
	if provisional && date != "" {
		return date + "（暂定）"
	}
	return date
}
