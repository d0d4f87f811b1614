package delegation

import (
	"fmt"
	"io"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// China is the time zone in which dates and working days are counted. A
// fixed offset: China has no daylight saving time, and a fixed zone needs no
// tzdata on a small box.
var China = time.FixedZone("CST", 8*3600)

// Calendar answers which days are working days: Monday to Friday, except the
// official holidays, plus the make-up working days (调休上班) that fall on a
// weekend. Years it has no notice for count weekends only.
type Calendar struct {
	holidays map[int64]string // day number -> festival
	workdays map[int64]string // make-up working day -> festival
	years    map[int]bool
	// provisional are the years whose notice is not the official one yet
	// (provisional: true in the file).
	provisional map[int]bool
}

// dayNumber counts days since 1970-01-01 in China: cheap to compare, hash
// and step through (a list computes deadlines for every row).
func dayNumber(t time.Time) int64 {
	s := t.Unix() + 8*3600
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

func fromDayNumber(d int64) time.Time { return time.Unix(d*86400-8*3600, 0).In(China) }

type calendarFile struct {
	Years []struct {
		Year        int    `yaml:"year"`
		Source      string `yaml:"source"`
		Provisional bool   `yaml:"provisional"`
		Festivals   []struct {
			Name string   `yaml:"name"`
			From string   `yaml:"from"`
			To   string   `yaml:"to"`
			Work []string `yaml:"work"`
		} `yaml:"festivals"`
	} `yaml:"years"`
}

// LoadCalendar reads a calendar file (see deploy/seed/calendar.yaml).
func LoadCalendar(r io.Reader) (*Calendar, error) {
	var f calendarFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: calendar: %v", ErrInvalidCatalog, err)
	}
	c := &Calendar{holidays: map[int64]string{}, workdays: map[int64]string{}, years: map[int]bool{}, provisional: map[int]bool{}}
	type workDay struct {
		day   int64
		field string
	}
	var work []workDay // every make-up working day, in the file's order
	for i, y := range f.Years {
		if y.Year < 2000 || y.Year > 2100 {
			return nil, fmt.Errorf("%w: calendar: years[%d].year: %d 超出范围", ErrInvalidCatalog, i, y.Year)
		}
		if c.years[y.Year] {
			return nil, fmt.Errorf("%w: calendar: years[%d].year: %d 重复", ErrInvalidCatalog, i, y.Year)
		}
		c.years[y.Year] = true
		c.provisional[y.Year] = y.Provisional
		for j, fe := range y.Festivals {
			field := fmt.Sprintf("calendar: years[%d].festivals[%d]", i, j)
			from, err := ParseDate(fe.From)
			if err != nil {
				return nil, fmt.Errorf("%w: %s.from: %v", ErrInvalidCatalog, field, err)
			}
			to, err := ParseDate(fe.To)
			if err != nil {
				return nil, fmt.Errorf("%w: %s.to: %v", ErrInvalidCatalog, field, err)
			}
			if to.Before(from) || to.Sub(from) > 15*24*time.Hour {
				return nil, fmt.Errorf("%w: %s: %s 至 %s 不是合理的假期", ErrInvalidCatalog, field, fe.From, fe.To)
			}
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				c.holidays[dayNumber(d)] = fe.Name
			}
			for k, w := range fe.Work {
				d, err := ParseDate(w)
				if err != nil {
					return nil, fmt.Errorf("%w: %s.work[%d]: %v", ErrInvalidCatalog, field, k, err)
				}
				if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
					return nil, fmt.Errorf("%w: %s.work[%d]: %s 不是周末，无需调休上班", ErrInvalidCatalog, field, k, w)
				}
				c.workdays[dayNumber(d)] = fe.Name
				work = append(work, workDay{dayNumber(d), fmt.Sprintf("%s.work[%d]: %s", field, k, w)})
			}
		}
	}
	for _, w := range work {
		// A make-up working day inside a holiday would turn the holiday
		// into a working day: a typo, never a notice.
		if name, ok := c.holidays[w.day]; ok {
			return nil, fmt.Errorf("%w: %s 在%s假期之内，不能是调休上班日", ErrInvalidCatalog, w.field, name)
		}
	}
	return c, nil
}

// Years lists the years the calendar has an official notice for.
func (c *Calendar) Years() []int {
	var out []int
	for y := range c.years {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// Covers reports whether the calendar has a notice for the year.
func (c *Calendar) Covers(year int) bool { return c.years[year] }

// Provisional reports whether working days counted from the day of from to
// the day of to touch a year that is provisional (暂定) or that the calendar
// has no notice for: a due date counted so may move when the notice comes.
func (c *Calendar) Provisional(from, to time.Time) bool {
	a, b := from.In(China).Year(), to.In(China).Year()
	if b < a {
		a, b = b, a
	}
	for y := a; y <= b; y++ {
		if !c.years[y] || c.provisional[y] {
			return true
		}
	}
	return false
}

// ParseDate parses YYYY-MM-DD as a date in China.
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", s, China)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q 不是 YYYY-MM-DD 格式的日期", s)
	}
	return t, nil
}

// FormatDate formats a time as the YYYY-MM-DD date it falls on in China.
func FormatDate(t time.Time) string { return t.In(China).Format("2006-01-02") }

// Day truncates a time to the start of its day in China.
func Day(t time.Time) time.Time {
	y, m, d := t.In(China).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, China)
}

// IsWorkingDay reports whether the day t falls on is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool { return c.isWorkingDay(dayNumber(t)) }

func (c *Calendar) isWorkingDay(d int64) bool {
	if _, ok := c.workdays[d]; ok {
		return true
	}
	if _, ok := c.holidays[d]; ok {
		return false
	}
	wd := (d + 4) % 7 // 1970-01-01 was a Thursday
	if wd < 0 {
		wd += 7
	}
	return wd != int64(time.Saturday) && wd != int64(time.Sunday)
}

// AddWorkingDays returns the day n working days after the day of t (the
// day of t itself counts as day 0, so n = 0 is that day: 即办).
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	d := dayNumber(t)
	for n > 0 {
		d++
		if c.isWorkingDay(d) {
			n--
		}
	}
	return fromDayNumber(d)
}

// WorkingDaysBetween counts the working days in (day of a, day of b]; it is
// negative, counting (b, a], when b is before a.
func (c *Calendar) WorkingDaysBetween(a, b time.Time) int {
	da, db := dayNumber(a), dayNumber(b)
	sign := 1
	if db < da {
		da, db, sign = db, da, -1
	}
	n := 0
	for d := da + 1; d <= db; d++ {
		if c.isWorkingDay(d) {
			n++
		}
	}
	return sign * n
}
