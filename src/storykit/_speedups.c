/* storykit._speedups: the JSON exporter's hot loop, in C (and a line counter for the workers).
 *
 * encode(stories, sep, end) renders a list of Story objects as compact JSON, one document per
 * story, joined by the one-byte `sep` (and ended by it too when `end` is true). The bytes are
 * exactly what `orjson.dumps(storykit.exporters.json._story_doc(story))` gives for each story:
 * the same keys in the same order, empty optional fields left out, the same string escapes.
 * tests/test_speedups.py checks that byte for byte with Hypothesis.
 *
 * Anything this code was not written for (a subclass, a field holding an unexpected type, a
 * lone surrogate, a UTC offset with seconds) is handed back to Python: the story's bytes so far
 * are dropped and `fallback(story)` (the pure path) renders it instead. So this module only
 * ever makes the common case faster; it never decides what the output is.
 *
 * Fields are read at the offsets of the classes' slots, which setup() checks once; a story of
 * any other type goes to the fallback. Values read from slots are borrowed: the only Python
 * code run while one is in use is a tzinfo's utcoffset(), and w_date holds its datetime then.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

#define OK 0
#define ERR (-1)
#define ODD 1 /* not for this code: render the story with the Python fallback */

typedef struct {
    char *p;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buf;

static int
grow(Buf *b, Py_ssize_t need)
{
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < need) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return ERR;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return ERR;
    }
    b->p = p;
    b->cap = cap;
    return OK;
}

#define RESERVE(b, n) (((b)->cap - (b)->len >= (n)) ? OK : grow((b), (n)))

static inline int
put(Buf *b, const char *s, Py_ssize_t n)
{
    if (RESERVE(b, n) != OK) {
        return ERR;
    }
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return OK;
}

#define LIT(b, s) put((b), (s), (Py_ssize_t)(sizeof(s) - 1))

/* --- the classes and their fields --------------------------------------------------------- */

enum {
    S_ID, S_TITLE, S_PUBLISHED, S_SUMMARY, S_URL, S_IMAGE, S_TOPICS, S_COUNTRIES, S_LANGUAGE,
    S_LINKS, S_TRANSLATIONS, S_UPDATED, S_BODY, S_N
};
static const char *story_fields[S_N] = {
    "id", "title", "published", "summary", "url", "image", "topics", "countries", "language",
    "links", "translations", "updated", "body",
};
enum { I_URL, I_ALT, I_CREDIT, I_N };
static const char *image_fields[I_N] = {"url", "alt", "credit"};
enum { C_HOLDER, C_YEAR, C_N };
static const char *credit_fields[C_N] = {"holder", "year"};
enum { L_URL, L_TITLE, L_N };
static const char *link_fields[L_N] = {"url", "title"};
enum { T_LANGUAGE, T_URL, T_TITLE, T_N };
static const char *translation_fields[T_N] = {"language", "url", "title"};

typedef struct {
    PyTypeObject *type; /* a strong reference, set by setup() */
    Py_ssize_t offset[S_N];
} Shape;

static Shape story_shape, image_shape, credit_shape, link_shape, translation_shape;
static PyObject *utcoffset_name;

/* The field's value, borrowed; NULL (no exception) if the slot is empty. */
#define FIELD(obj, shape, i) (*(PyObject **)((char *)(obj) + (shape).offset[i]))

static int
read_shape(Shape *shape, PyObject *cls, const char **names, int n)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "setup() takes the model classes");
        return ERR;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    for (int i = 0; i < n; i++) {
        PyObject *d = PyDict_GetItemString(type->tp_dict, names[i]); /* borrowed */
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, names[i]);
            return ERR;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)
            || PyDescr_TYPE(d) != type || m->offset < (Py_ssize_t)sizeof(PyObject)
            || m->offset > type->tp_basicsize - (Py_ssize_t)sizeof(PyObject *)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name,
                         names[i]);
            return ERR;
        }
        shape->offset[i] = m->offset;
    }
    shape->type = type; /* borrowed until setup() commits all five */
    return OK;
}

/* --- values -------------------------------------------------------------------------------- */

/* What each byte becomes inside a JSON string, as orjson writes it: 0 for itself. */
static char escape_kind[128];

static void
init_escapes(void)
{
    for (int c = 0; c < 0x20; c++) {
        escape_kind[c] = 'u';
    }
    escape_kind['\b'] = 'b';
    escape_kind['\t'] = 't';
    escape_kind['\n'] = 'n';
    escape_kind['\f'] = 'f';
    escape_kind['\r'] = 'r';
    escape_kind['"'] = '"';
    escape_kind['\\'] = '\\';
}

static const char hex_digits[] = "0123456789abcdef";

static inline char *
escape_ascii(char *out, Py_UCS4 c)
{
    char k = escape_kind[c];
    *out++ = '\\';
    if (k == 'u') {
        *out++ = 'u';
        *out++ = '0';
        *out++ = '0';
        *out++ = hex_digits[c >> 4];
        *out++ = hex_digits[c & 0xF];
    }
    else {
        *out++ = k;
    }
    return out;
}

/* Whether any of the 8 bytes in `x` needs more than a copy: a control character, '"', '\\'
 * or a byte of a non-ASCII character. Exact as a whole (each test is the classic "has a byte
 * less than / equal to" trick); the caller then looks at the 8 bytes one by one. */
static inline int
block_is_plain(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * 0x22), bs = x ^ (ones * 0x5C);
    uint64_t odd = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x;
    return (odd & high) == 0;
}

/* One character, as UTF-8 or an escape; ODD for a surrogate (orjson refuses them). */
static inline int
put_char(char **outp, Py_UCS4 c)
{
    char *out = *outp;
    if (c < 0x80) {
        if (escape_kind[c]) {
            out = escape_ascii(out, c);
        }
        else {
            *out++ = (char)c;
        }
    }
    else if (c < 0x800) {
        *out++ = (char)(0xC0 | (c >> 6));
        *out++ = (char)(0x80 | (c & 0x3F));
    }
    else if (c < 0x10000) {
        if (c >= 0xD800 && c <= 0xDFFF) {
            return ODD;
        }
        *out++ = (char)(0xE0 | (c >> 12));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    }
    else {
        *out++ = (char)(0xF0 | (c >> 18));
        *out++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    }
    *outp = out;
    return OK;
}

/* A str as a JSON string, UTF-8 encoded. ODD for anything but an exact str, or a surrogate
 * (which orjson refuses: the fallback raises its error). */
static int
w_str(Buf *b, PyObject *v)
{
    if (!PyUnicode_CheckExact(v)) {
        return ODD;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(v) < 0) {
        return ERR;
    }
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    /* At most 6 bytes a character (an escape), or 4 (UTF-8 of a 4-byte-kind character). */
    if (n > (PY_SSIZE_T_MAX - b->len) / 6 - 2) {
        PyErr_NoMemory();
        return ERR;
    }
    if (RESERVE(b, n * 6 + 2) != OK) {
        return ERR;
    }
    char *out = b->p + b->len;
    *out++ = '"';
    Py_ssize_t i = 0;
    if (kind == PyUnicode_1BYTE_KIND) {
        const unsigned char *s = data;
        while (i < n) {
            if (i + 8 <= n) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                if (block_is_plain(x)) {
                    memcpy(out, &x, 8);
                    out += 8;
                    i += 8;
                    continue;
                }
            }
            Py_ssize_t stop = i + 8 < n ? i + 8 : n;
            for (; i < stop; i++) {
                (void)put_char(&out, s[i]); /* no surrogate in 1-byte kind */
            }
        }
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *s = data;
        for (; i < n; i++) {
            Py_UCS2 c = s[i];
            if (c < 0x80 && !escape_kind[c]) {
                *out++ = (char)c;
            }
            else if (put_char(&out, c) != OK) {
                return ODD;
            }
        }
    }
    else {
        const Py_UCS4 *s = data;
        for (; i < n; i++) {
            if (put_char(&out, s[i]) != OK) {
                return ODD;
            }
        }
    }
    *out++ = '"';
    b->len = out - b->p;
    return OK;
}

static inline char *
digits(char *o, int value, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        o[k] = (char)('0' + value % 10);
        value /= 10;
    }
    return o + width;
}

/* A tz-aware datetime's utcoffset(), called as isoformat() calls it: OK with the sign ('+' or
 * '-', or 0 for None) and the whole minutes; ODD for anything isoformat() would not write as
 * +HH:MM; ERR if utcoffset() raised. */
static int
utc_offset(PyObject *tz, PyObject *dt, int *sign, int *minutes)
{
    PyObject *delta = PyObject_CallMethodOneArg(tz, utcoffset_name, dt);
    if (delta == NULL) {
        return ERR;
    }
    int r = OK;
    if (delta != Py_None) {
        int days = PyDateTime_DELTA_GET_DAYS(delta);
        int seconds = PyDateTime_DELTA_GET_SECONDS(delta);
        /* Within a day either way: days is 0 or -1 (checked first: no overflow, even where
         * long is 32 bits), and isoformat() writes seconds or microseconds when not zero. */
        if (!PyDelta_CheckExact(delta) || PyDateTime_DELTA_GET_MICROSECONDS(delta) != 0
            || seconds % 60 != 0 || days < -1 || days > 0 || (days == -1 && seconds == 0)) {
            r = ODD;
        }
        else {
            int total = days * 86400 + seconds; /* in (-86400, 86400) */
            *sign = total < 0 ? '-' : '+';
            *minutes = (total < 0 ? -total : total) / 60;
        }
    }
    Py_DECREF(delta);
    return r;
}

/* A date as "YYYY-MM-DD" (orjson's form); a datetime as its isoformat() string, as _story_doc
 * writes them. ODD for a subclass, or an offset that is not a whole number of minutes. */
static int
w_date(Buf *b, PyObject *v)
{
    if (RESERVE(b, 40) != OK) {
        return ERR;
    }
    char *o = b->p + b->len;
    if (PyDate_CheckExact(v)) {
        *o++ = '"';
        o = digits(o, PyDateTime_GET_YEAR(v), 4);
        *o++ = '-';
        o = digits(o, PyDateTime_GET_MONTH(v), 2);
        *o++ = '-';
        o = digits(o, PyDateTime_GET_DAY(v), 2);
        *o++ = '"';
        b->len = o - b->p;
        return OK;
    }
    if (!PyDateTime_CheckExact(v)) {
        return ODD;
    }
    int sign = 0, minutes = 0;
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(v); /* borrowed from v */
    /* utcoffset() is Python code, which may drop the story's reference to v (v is borrowed
     * from a slot): hold v, and so its tzinfo, until its fields are read. */
    Py_INCREF(v);
    if (tz != Py_None) {
        int r = utc_offset(tz, v, &sign, &minutes);
        if (r != OK) {
            Py_DECREF(v);
            return r;
        }
    }
    int year = PyDateTime_GET_YEAR(v), month = PyDateTime_GET_MONTH(v);
    int day = PyDateTime_GET_DAY(v), hour = PyDateTime_DATE_GET_HOUR(v);
    int minute = PyDateTime_DATE_GET_MINUTE(v), second = PyDateTime_DATE_GET_SECOND(v);
    int us = PyDateTime_DATE_GET_MICROSECOND(v);
    Py_DECREF(v);
    o = b->p + b->len; /* (utcoffset() ran Python code, but the buffer did not move) */
    *o++ = '"';
    o = digits(o, year, 4);
    *o++ = '-';
    o = digits(o, month, 2);
    *o++ = '-';
    o = digits(o, day, 2);
    *o++ = 'T';
    o = digits(o, hour, 2);
    *o++ = ':';
    o = digits(o, minute, 2);
    *o++ = ':';
    o = digits(o, second, 2);
    if (us) {
        *o++ = '.';
        o = digits(o, us, 6);
    }
    if (sign) {
        *o++ = (char)sign;
        o = digits(o, minutes / 60, 2);
        *o++ = ':';
        o = digits(o, minutes % 60, 2);
    }
    *o++ = '"';
    b->len = o - b->p;
    return OK;
}

static int
w_int(Buf *b, PyObject *v)
{
    if (!PyLong_CheckExact(v)) {
        return ODD;
    }
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) {
        return ODD;
    }
    if (x == -1 && PyErr_Occurred()) {
        return ERR;
    }
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", x);
    return put(b, tmp, n);
}

/* --- the model ------------------------------------------------------------------------------ */

#define TRY(expr)             \
    do {                      \
        int r_ = (expr);      \
        if (r_ != OK) {       \
            return r_;        \
        }                     \
    } while (0)

/* A field read from a slot: ODD if the slot is empty (an object made without its fields). */
#define GET(var, obj, shape, i)             \
    do {                                    \
        (var) = FIELD((obj), (shape), (i)); \
        if ((var) == NULL) {                \
            return ODD;                     \
        }                                   \
    } while (0)

static int
w_credit(Buf *b, PyObject *c)
{
    PyObject *v;
    if (!Py_IS_TYPE(c, credit_shape.type)) {
        return ODD;
    }
    GET(v, c, credit_shape, C_HOLDER);
    TRY(LIT(b, "{\"holder\":"));
    TRY(w_str(b, v));
    GET(v, c, credit_shape, C_YEAR);
    if (v != Py_None) {
        TRY(LIT(b, ",\"year\":"));
        TRY(w_int(b, v));
    }
    return LIT(b, "}");
}

static int
w_image(Buf *b, PyObject *im)
{
    PyObject *v;
    if (!Py_IS_TYPE(im, image_shape.type)) {
        return ODD;
    }
    GET(v, im, image_shape, I_URL);
    TRY(LIT(b, "{\"url\":"));
    TRY(w_str(b, v));
    GET(v, im, image_shape, I_ALT);
    TRY(LIT(b, ",\"alt\":"));
    TRY(w_str(b, v));
    GET(v, im, image_shape, I_CREDIT);
    if (v != Py_None) {
        TRY(LIT(b, ",\"credit\":"));
        TRY(w_credit(b, v));
    }
    return LIT(b, "}");
}

static int
w_strings(Buf *b, PyObject *t)
{
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    TRY(LIT(b, "["));
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i) {
            TRY(LIT(b, ","));
        }
        TRY(w_str(b, PyTuple_GET_ITEM(t, i)));
    }
    return LIT(b, "]");
}

static int
w_links(Buf *b, PyObject *t)
{
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    PyObject *v;
    TRY(LIT(b, "["));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(t, i);
        if (!Py_IS_TYPE(x, link_shape.type)) {
            return ODD;
        }
        TRY(i ? LIT(b, ",{\"url\":") : LIT(b, "{\"url\":"));
        GET(v, x, link_shape, L_URL);
        TRY(w_str(b, v));
        TRY(LIT(b, ",\"title\":"));
        GET(v, x, link_shape, L_TITLE);
        TRY(w_str(b, v));
        TRY(LIT(b, "}"));
    }
    return LIT(b, "]");
}

static int
w_translations(Buf *b, PyObject *t)
{
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    PyObject *v;
    TRY(LIT(b, "["));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(t, i);
        if (!Py_IS_TYPE(x, translation_shape.type)) {
            return ODD;
        }
        TRY(i ? LIT(b, ",{\"language\":") : LIT(b, "{\"language\":"));
        GET(v, x, translation_shape, T_LANGUAGE);
        TRY(w_str(b, v));
        TRY(LIT(b, ",\"url\":"));
        GET(v, x, translation_shape, T_URL);
        TRY(w_str(b, v));
        GET(v, x, translation_shape, T_TITLE);
        if (v != Py_None) {
            TRY(LIT(b, ",\"title\":"));
            TRY(w_str(b, v));
        }
        TRY(LIT(b, "}"));
    }
    return LIT(b, "]");
}

/* A tuple field: ODD for anything but an exact tuple; `*present` says whether to write it. */
static int
tuple_field(PyObject *v, int *present)
{
    if (!PyTuple_CheckExact(v)) {
        return ODD;
    }
    *present = PyTuple_GET_SIZE(v) > 0;
    return OK;
}

static int
w_story(Buf *b, PyObject *s)
{
    PyObject *v;
    int present;
    if (!Py_IS_TYPE(s, story_shape.type)) {
        return ODD;
    }
    TRY(LIT(b, "{\"id\":"));
    GET(v, s, story_shape, S_ID);
    TRY(w_str(b, v));
    TRY(LIT(b, ",\"title\":"));
    GET(v, s, story_shape, S_TITLE);
    TRY(w_str(b, v));
    TRY(LIT(b, ",\"published\":"));
    GET(v, s, story_shape, S_PUBLISHED);
    TRY(w_date(b, v));
    TRY(LIT(b, ",\"summary\":"));
    GET(v, s, story_shape, S_SUMMARY);
    TRY(w_str(b, v));
    GET(v, s, story_shape, S_URL);
    if (v != Py_None) {
        TRY(LIT(b, ",\"url\":"));
        TRY(w_str(b, v));
    }
    GET(v, s, story_shape, S_IMAGE);
    if (v != Py_None) {
        TRY(LIT(b, ",\"image\":"));
        TRY(w_image(b, v));
    }
    GET(v, s, story_shape, S_TOPICS);
    TRY(tuple_field(v, &present));
    if (present) {
        TRY(LIT(b, ",\"topics\":"));
        TRY(w_strings(b, v));
    }
    GET(v, s, story_shape, S_COUNTRIES);
    TRY(tuple_field(v, &present));
    if (present) {
        TRY(LIT(b, ",\"countries\":"));
        TRY(w_strings(b, v));
    }
    TRY(LIT(b, ",\"language\":"));
    GET(v, s, story_shape, S_LANGUAGE);
    TRY(w_str(b, v));
    GET(v, s, story_shape, S_LINKS);
    TRY(tuple_field(v, &present));
    if (present) {
        TRY(LIT(b, ",\"links\":"));
        TRY(w_links(b, v));
    }
    GET(v, s, story_shape, S_TRANSLATIONS);
    TRY(tuple_field(v, &present));
    if (present) {
        TRY(LIT(b, ",\"translations\":"));
        TRY(w_translations(b, v));
    }
    GET(v, s, story_shape, S_UPDATED);
    if (v != Py_None) {
        TRY(LIT(b, ",\"updated\":"));
        TRY(w_date(b, v));
    }
    GET(v, s, story_shape, S_BODY);
    if (v != Py_None) {
        TRY(LIT(b, ",\"body\":"));
        TRY(w_str(b, v));
    }
    return LIT(b, "}");
}

/* --- the module ------------------------------------------------------------------------------ */

static PyObject *fallback_fn; /* story -> bytes: the pure path, set by setup() */
static int encoding;          /* encode() calls running (nested through Python code too) */

static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *story, *image, *credit, *link, *translation, *fallback;
    if (!PyArg_ParseTuple(args, "OOOOOO:setup", &story, &image, &credit, &link, &translation,
                          &fallback)) {
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "setup(): fallback must be callable");
        return NULL;
    }
    if (encoding) {
        PyErr_SetString(PyExc_RuntimeError, "setup() while encode() runs");
        return NULL;
    }
    Shape sh[5] = {{NULL, {0}}};
    if (read_shape(&sh[0], story, story_fields, S_N) != OK
        || read_shape(&sh[1], image, image_fields, I_N) != OK
        || read_shape(&sh[2], credit, credit_fields, C_N) != OK
        || read_shape(&sh[3], link, link_fields, L_N) != OK
        || read_shape(&sh[4], translation, translation_fields, T_N) != OK) {
        return NULL; /* the shapes in use are untouched */
    }
    Shape *live[5] = {&story_shape, &image_shape, &credit_shape, &link_shape,
                      &translation_shape};
    PyObject *old[6];
    for (int k = 0; k < 5; k++) {
        Py_INCREF(sh[k].type);
        old[k] = (PyObject *)live[k]->type;
        *live[k] = sh[k];
    }
    Py_INCREF(fallback);
    old[5] = fallback_fn;
    fallback_fn = fallback;
    for (int k = 0; k < 6; k++) { /* (last: a __del__ then sees the new set-up) */
        Py_XDECREF(old[k]);
    }
    Py_RETURN_NONE;
}

static PyObject *
encode(PyObject *module, PyObject *args)
{
    PyObject *stories;
    char sep;
    int end;
    if (!PyArg_ParseTuple(args, "O!cp:encode", &PyList_Type, &stories, &sep, &end)) {
        return NULL;
    }
    if (fallback_fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "encode() before setup()");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    encoding++;
    /* The list may shrink while a fallback runs Python code: index it afresh each time. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stories); i++) {
        PyObject *s = PyList_GET_ITEM(stories, i);
        Py_INCREF(s);
        int r = (i == 0 || put(&b, &sep, 1) == OK) ? OK : ERR;
        Py_ssize_t doc = b.len;
        if (r == OK) {
            r = w_story(&b, s);
        }
        if (r == ODD) {
            b.len = doc;
            PyObject *fn = Py_NewRef(fallback_fn);
            PyObject *got = PyObject_CallOneArg(fn, s);
            Py_DECREF(fn);
            if (got == NULL) {
                r = ERR;
            }
            else if (!PyBytes_Check(got)) {
                PyErr_SetString(PyExc_TypeError, "encode(): the fallback must return bytes");
                Py_DECREF(got);
                r = ERR;
            }
            else {
                r = put(&b, PyBytes_AS_STRING(got), PyBytes_GET_SIZE(got));
                Py_DECREF(got);
            }
        }
        Py_DECREF(s);
        if (r != OK) {
            PyMem_Free(b.p);
            encoding--;
            return NULL;
        }
    }
    encoding--;
    if (end && b.len && put(&b, &sep, 1) != OK) {
        PyMem_Free(b.p);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(b.p, b.len);
    PyMem_Free(b.p);
    return out;
}

/* count_lines(part) -> (lines, stories): the lines of a part of a JSON Lines file (whole lines;
 * the last may lack its line break) and the stories among them, the lines that are not blank
 * (bytes.isspace() after its line break). What storykit._parallel._count gives, with memchr. */
static inline int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

static PyObject *
count_lines(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const char *line = view.buf, *end = line + view.len;
    Py_ssize_t lines = 0, blank = 0;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        if (line == stop || is_space((unsigned char)*line)) {
            const char *c = line;
            while (c < stop && is_space((unsigned char)*c)) {
                c++;
            }
            blank += c == stop;
        }
        lines++;
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nn)", lines, lines - blank);
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(Story, Image, Credit, Link, Translation, fallback): read the classes' slots."},
    {"encode", encode, METH_VARARGS,
     "encode(stories, sep, end) -> bytes: the stories as compact JSON, joined by sep."},
    {"count_lines", count_lines, METH_O,
     "count_lines(part) -> (lines, stories): the lines of JSON Lines, and those not blank."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "storykit._speedups",
    "The JSON exporter's hot loop in C (see storykit.exporters.json).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    utcoffset_name = PyUnicode_InternFromString("utcoffset");
    if (utcoffset_name == NULL) {
        return NULL;
    }
    init_escapes();
    return PyModule_Create(&module_def);
}
