/* Tree walks of a whole forest over a block of rows, with scikit-learn's comparisons and sums.
 *
 * scikit-learn walks one tree per call and one row at a time, branching at every node; here all
 * trees go in one call and several rows walk a tree at once with a branch-free choice of child, so
 * the memory loads of different rows overlap. The decisions and the float operations are
 * scikit-learn's: `Tree.apply` for an isolation forest (float32 value, `<=` to a float64
 * threshold, NaN by missing_go_to_left) and `_predict_one_from_raw_data` for a
 * HistGradientBoosting predictor (categorical splits included); the sums run per row, tree 0
 * first, from 0.0, as numpy's `+=` over the trees does. Python builds the node table
 * (`riskengine.model._isolation`, `riskengine.model._gains`).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* One node; the Python side builds the same layout as a numpy structured dtype (24 bytes). */
typedef struct {
    double threshold;  /* numeric split: go left when value <= threshold */
    int32_t feature;   /* column of the row; 0 for a leaf (its children are itself) */
    int32_t child[2];  /* absolute indices: [0] left, [1] right */
    uint32_t info;     /* bit 0: NaN goes left; bit 1: categorical; bit 2: leaf; bits 3..: bitset row */
} node_t;

#define NAN_LEFT 1u
#define CATEGORICAL 2u
#define LEAF 4u
#define BITSET_SHIFT 3
#define BITSET_WORDS 8 /* 256 categories in uint32 words, as scikit-learn's bitsets */
#define LANES 8        /* rows walking one tree at once */

typedef struct {
    const uint32_t *raw_left; /* (rows, 8): categories going left, per categorical node */
    const uint32_t *known;    /* (categorical features, 8): categories seen in fit */
    const uint32_t *f_idx_map;/* feature -> row of known */
} categories_t;

/* scikit-learn's `<uint8_t>value` on x86-64: truncation to int32 (0x80000000 when out of range), low byte. */
static inline uint32_t
category_of(double value)
{
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
    return value < 2147483648.0 ? (uint32_t)(uint8_t)(int32_t)value : 0u;
#else
    return (uint8_t)value;
#endif
}

static inline int
in_bitset(const uint32_t *bitsets, uint32_t row, uint32_t category)
{
    return (bitsets[row * BITSET_WORDS + (category >> 5)] >> (category & 31u)) & 1u;
}

/* `_predict_one_from_raw_data`'s choice at a categorical node (value not NaN). */
static int
categorical_left(const node_t *node, double value, const categories_t *cat)
{
    int missing_left = (node->info & NAN_LEFT) != 0;
    uint32_t category;

    if (value < 0)
        return missing_left;
    category = category_of(value);
    if (in_bitset(cat->raw_left, node->info >> BITSET_SHIFT, category))
        return 1;
    if (in_bitset(cat->known, cat->f_idx_map[node->feature], category))
        return 0;
    return missing_left; /* an unknown category is missing */
}

/* Walk one tree for rows [0, n) of X (row-major, `stride` values per row): leaf[i] gets row i's leaf.
 * LANES rows step through the tree together, branch-free (a leaf is its own child), until all of
 * them stand on a leaf: their loads overlap instead of waiting on each other. */
#define DEFINE_WALK(NAME, T, CAT)                                                                      \
static void                                                                                         \
NAME(const node_t *nodes, int32_t root, const T *X, Py_ssize_t stride, Py_ssize_t n,                \
     int32_t *leaf, const categories_t *cat)                                                        \
{                                                                                                   \
    Py_ssize_t lo;                                                                                  \
    int k;                                                                                          \
                                                                                                    \
    for (lo = 0; lo < n; lo += LANES) {                                                             \
        int32_t node[LANES];                                                                        \
        const T *row[LANES];                                                                        \
        uint32_t inner;                                                                             \
        for (k = 0; k < LANES; k++) {                                                               \
            node[k] = root;                                                                         \
            row[k] = X + (lo + k < n ? lo + k : lo) * stride; /* past the end: repeat row lo */     \
        }                                                                                           \
        inner = ~nodes[root].info & LEAF;                                                           \
        while (inner) {                                                                             \
            inner = 0;                                                                              \
            for (k = 0; k < LANES; k++) {                                                           \
                const node_t *nd = nodes + node[k];                                                 \
                T value = row[k][nd->feature];                                                      \
                int left;                                                                           \
                if (CAT && (nd->info & CATEGORICAL))                                                \
                    left = value != value ? (int)(nd->info & NAN_LEFT) : categorical_left(nd, value, cat); \
                else                                                                                \
                    left = ((double)value <= nd->threshold) | ((value != value) & (int)(nd->info & NAN_LEFT)); \
                node[k] = nd->child[!left];                                                         \
                inner |= ~nodes[node[k]].info;                                                      \
            }                                                                                       \
            inner &= LEAF;                                                                          \
        }                                                                                           \
        for (k = 0; k < LANES && lo + k < n; k++)                                                   \
            leaf[lo + k] = node[k];                                                                 \
    }                                                                                               \
}

DEFINE_WALK(walk_f32, float, 0)
DEFINE_WALK(walk_f64, double, 0)
DEFINE_WALK(walk_f64_categorical, double, 1)

/* -- argument checks ------------------------------------------------------------------------- */

static int
format_is(const Py_buffer *view, char code)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
    return f[0] == code && f[1] == '\0';
}

/* A C-contiguous buffer of `ndim` dimensions and element `code` (0: any, checked by itemsize). */
static int
get_array(PyObject *obj, Py_buffer *view, const char *name, char code, Py_ssize_t itemsize, int ndim,
          int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);

    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a %sC-contiguous buffer", name, writable ? "writable " : "");
        return -1;
    }
    if (view->ndim != ndim || view->itemsize != itemsize || (code && !format_is(view, code))) {
        PyErr_Format(PyExc_ValueError,
                     "%s must be a %d-dimensional array of %zd-byte items ('%c'), got %d dimension(s) of "
                     "%zd-byte items ('%s')",
                     name, ndim, itemsize, code ? code : '?', view->ndim, view->itemsize,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

typedef struct {
    PyObject *obj;
    const char *name;
    char code;
    Py_ssize_t itemsize;
    int ndim;
    int writable;
} array_arg;

/* `get_array` of each argument into views[i], in order; all or none (those taken are released). */
static int
get_arrays(const array_arg *args, Py_buffer *const *views, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (get_array(args[i].obj, views[i], args[i].name, args[i].code, args[i].itemsize, args[i].ndim,
                      args[i].writable) < 0) {
            while (i-- > 0)
                PyBuffer_Release(views[i]);
            return -1;
        }
    }
    return 0;
}

/* Every node within the table, children after their parent (so a walk ends), columns within the row. */
static int
check_nodes(const node_t *nodes, Py_ssize_t n_nodes, Py_ssize_t n_columns, const Py_buffer *raw_left,
            const Py_buffer *known, const Py_buffer *f_idx_map, int *categorical)
{
    Py_ssize_t i;
    Py_ssize_t raw_rows = raw_left ? raw_left->shape[0] : 0;
    Py_ssize_t known_rows = known ? known->shape[0] : 0;
    Py_ssize_t mapped = f_idx_map ? f_idx_map->shape[0] : 0;

    for (i = 0; i < n_nodes; i++) {
        const node_t *nd = nodes + i;
        if (nd->info & LEAF) {
            if (nd->child[0] != i || nd->child[1] != i || nd->feature != 0) {
                PyErr_Format(PyExc_ValueError, "nodes: leaf %zd must be its own children, feature 0", i);
                return -1;
            }
            continue;
        }
        if (nd->child[0] <= i || nd->child[1] <= i || nd->child[0] >= n_nodes || nd->child[1] >= n_nodes) {
            PyErr_Format(PyExc_ValueError, "nodes: children of node %zd must follow it within the table", i);
            return -1;
        }
        if (nd->feature < 0 || nd->feature >= n_columns) {
            PyErr_Format(PyExc_ValueError, "nodes: node %zd tests column %d, X has %zd", i, (int)nd->feature,
                         n_columns);
            return -1;
        }
        if (nd->info & CATEGORICAL) {
            *categorical = 1;
            uint32_t bitset = nd->info >> BITSET_SHIFT;
            if ((Py_ssize_t)bitset >= raw_rows || nd->feature >= mapped
                || (Py_ssize_t)((const uint32_t *)f_idx_map->buf)[nd->feature] >= known_rows) {
                PyErr_Format(PyExc_ValueError, "nodes: categorical node %zd has no bitset", i);
                return -1;
            }
        }
    }
    return 0;
}

static int
check_roots(const Py_buffer *roots, Py_ssize_t n_nodes)
{
    const int32_t *r = roots->buf;
    Py_ssize_t t;

    for (t = 0; t < roots->shape[0]; t++) {
        if (r[t] < 0 || r[t] >= n_nodes) {
            PyErr_Format(PyExc_ValueError, "roots: tree %zd starts at %d, outside the %zd nodes", t, (int)r[t], n_nodes);
            return -1;
        }
    }
    return 0;
}

static int
check_range(Py_ssize_t start, Py_ssize_t stop, Py_ssize_t n)
{
    if (start < 0 || stop < start || stop > n) {
        PyErr_Format(PyExc_ValueError, "rows %zd:%zd are not within the %zd rows of X", start, stop, n);
        return -1;
    }
    return 0;
}

/* -- isolation forest -------------------------------------------------------------------------- */

PyDoc_STRVAR(isolation_doc,
"isolation(nodes, roots, depth, X, out, start, stop, block)\n--\n\n"
"out[i] = 0.0 + depth[leaf of row i in tree 0] + depth[... tree 1] + ... for rows start:stop.\n"
"X: float32 (rows, columns); nodes: the node table; roots: int32 per tree; depth: float64 per node;\n"
"out: float64 (rows,). Rows go `block` at a time through all trees.");

static PyObject *
isolation(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *o_nodes, *o_roots, *o_depth, *o_X, *o_out;
    Py_buffer nodes, roots, depth, X, out;
    Py_buffer *views[5] = {&nodes, &roots, &depth, &X, &out};
    Py_ssize_t start, stop, block, n_nodes, n_trees, n_rows, n_columns;
    int32_t *leaf = NULL;
    PyObject *result = NULL;
    int got = 0, i, categorical = 0;

    if (!PyArg_ParseTuple(args, "OOOOOnnn:isolation", &o_nodes, &o_roots, &o_depth, &o_X, &o_out, &start, &stop,
                          &block))
        return NULL;
    const array_arg wanted[5] = {
        {o_nodes, "nodes", 0, sizeof(node_t), 1, 0},
        {o_roots, "roots", 'i', 4, 1, 0},
        {o_depth, "depth", 'd', 8, 1, 0},
        {o_X, "X", 'f', 4, 2, 0},
        {o_out, "out", 'd', 8, 1, 1},
    };
    if (get_arrays(wanted, views, 5) < 0)
        goto end;
    got = 5;
    n_nodes = nodes.shape[0];
    n_trees = roots.shape[0];
    n_rows = X.shape[0];
    n_columns = X.shape[1];
    if (depth.shape[0] != n_nodes) {
        PyErr_Format(PyExc_ValueError, "depth has %zd values for %zd nodes", depth.shape[0], n_nodes);
        goto end;
    }
    if (out.shape[0] != n_rows) {
        PyErr_Format(PyExc_ValueError, "out has %zd rows, X %zd", out.shape[0], n_rows);
        goto end;
    }
    if (block < 1) {
        PyErr_SetString(PyExc_ValueError, "block must be positive");
        goto end;
    }
    if (check_range(start, stop, n_rows) < 0 || check_roots(&roots, n_nodes) < 0
        || check_nodes(nodes.buf, n_nodes, n_columns, NULL, NULL, NULL, &categorical) < 0)
        goto end;
    if (block > stop - start)
        block = stop - start > 0 ? stop - start : 1;
    leaf = PyMem_RawMalloc(sizeof(int32_t) * (size_t)block);
    if (leaf == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        const node_t *table = nodes.buf;
        const int32_t *root = roots.buf;
        const double *d = depth.buf;
        const float *x = X.buf;
        double *o = out.buf;
        Py_ssize_t lo, j, t;

        for (lo = start; lo < stop; lo += block) {
            Py_ssize_t m = stop - lo < block ? stop - lo : block;
            for (j = 0; j < m; j++)
                o[lo + j] = 0.0;
            for (t = 0; t < n_trees; t++) {
                walk_f32(table, root[t], x + lo * n_columns, n_columns, m, leaf, NULL);
                for (j = 0; j < m; j++)
                    o[lo + j] += d[leaf[j]];
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
end:
    PyMem_RawFree(leaf);
    for (i = 0; i < got; i++)
        PyBuffer_Release(views[i]);
    return result;
}

/* -- booster ----------------------------------------------------------------------------------- */

PyDoc_STRVAR(booster_doc,
"booster(nodes, roots, value, X, baseline, raw_left_cat_bitsets, known_cat_bitsets, f_idx_map,\n"
"        raw, leaves, start, stop, block)\n--\n\n"
"For rows start:stop: leaves[t, i] = absolute leaf of row i in tree t, and\n"
"raw[i] = 0.0 + baseline + value[leaves[0, i]] + value[leaves[1, i]] + ...\n"
"X: float64 (rows, columns); roots: int32 per tree; value: float64 per node; bitsets: uint32\n"
"(rows, 8); f_idx_map: uint32 per column; raw: float64 (rows,); leaves: int32 (trees, rows).");

static PyObject *
booster(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *o_nodes, *o_roots, *o_value, *o_X, *o_raw_left, *o_known, *o_map, *o_raw, *o_leaves;
    Py_buffer nodes, roots, value, X, raw_left, known, f_idx_map, raw, leaves;
    Py_buffer *views[9] = {&nodes, &roots, &value, &X, &raw_left, &known, &f_idx_map, &raw, &leaves};
    double baseline;
    Py_ssize_t start, stop, block, n_nodes, n_trees, n_rows, n_columns;
    PyObject *result = NULL;
    int got = 0, i, categorical = 0;

    if (!PyArg_ParseTuple(args, "OOOOdOOOOOnnn:booster", &o_nodes, &o_roots, &o_value, &o_X, &baseline,
                          &o_raw_left, &o_known, &o_map, &o_raw, &o_leaves, &start, &stop, &block))
        return NULL;
    const array_arg wanted[9] = {
        {o_nodes, "nodes", 0, sizeof(node_t), 1, 0},
        {o_roots, "roots", 'i', 4, 1, 0},
        {o_value, "value", 'd', 8, 1, 0},
        {o_X, "X", 'd', 8, 2, 0},
        {o_raw_left, "raw_left_cat_bitsets", 'I', 4, 2, 0},
        {o_known, "known_cat_bitsets", 'I', 4, 2, 0},
        {o_map, "f_idx_map", 'I', 4, 1, 0},
        {o_raw, "raw", 'd', 8, 1, 1},
        {o_leaves, "leaves", 'i', 4, 2, 1},
    };
    if (get_arrays(wanted, views, 9) < 0)
        goto end;
    got = 9;
    n_nodes = nodes.shape[0];
    n_trees = roots.shape[0];
    n_rows = X.shape[0];
    n_columns = X.shape[1];
    if (value.shape[0] != n_nodes) {
        PyErr_Format(PyExc_ValueError, "value has %zd values for %zd nodes", value.shape[0], n_nodes);
        goto end;
    }
    if (raw_left.shape[1] != BITSET_WORDS || known.shape[1] != BITSET_WORDS) {
        PyErr_SetString(PyExc_ValueError, "raw_left_cat_bitsets and known_cat_bitsets must have 8 columns");
        goto end;
    }
    if (raw.shape[0] != n_rows || leaves.shape[0] != n_trees || leaves.shape[1] != n_rows) {
        PyErr_Format(PyExc_ValueError, "raw must be (%zd,) and leaves (%zd, %zd) for X of %zd rows and %zd trees",
                     n_rows, n_trees, n_rows, n_rows, n_trees);
        goto end;
    }
    if (block < 1) {
        PyErr_SetString(PyExc_ValueError, "block must be positive");
        goto end;
    }
    if (check_range(start, stop, n_rows) < 0 || check_roots(&roots, n_nodes) < 0
        || check_nodes(nodes.buf, n_nodes, n_columns, &raw_left, &known, &f_idx_map, &categorical) < 0)
        goto end;
    Py_BEGIN_ALLOW_THREADS
    {
        const node_t *table = nodes.buf;
        const int32_t *root = roots.buf;
        const double *v = value.buf;
        const double *x = X.buf;
        double *r = raw.buf;
        int32_t *leaf = leaves.buf;
        categories_t cat = {raw_left.buf, known.buf, f_idx_map.buf};
        Py_ssize_t lo, j, t;

        for (lo = start; lo < stop; lo += block) {
            Py_ssize_t m = stop - lo < block ? stop - lo : block;
            for (j = 0; j < m; j++) {
                r[lo + j] = 0.0;
                r[lo + j] += baseline;
            }
            for (t = 0; t < n_trees; t++) {
                int32_t *row_leaf = leaf + t * n_rows + lo;
                if (categorical)
                    walk_f64_categorical(table, root[t], x + lo * n_columns, n_columns, m, row_leaf, &cat);
                else
                    walk_f64(table, root[t], x + lo * n_columns, n_columns, m, row_leaf, &cat);
                for (j = 0; j < m; j++)
                    r[lo + j] += v[row_leaf[j]];
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
end:
    for (i = 0; i < got; i++)
        PyBuffer_Release(views[i]);
    return result;
}

/* -- explanation probes ------------------------------------------------------------------------ */

PyDoc_STRVAR(probe_doc,
"probe(nodes, value, group, X, reference, raw, leaves, who, which, mask, start, out)\n--\n\n"
"out[k] = raw[r] + (0.0 + change in tree t0 + change in tree t1 + ...) for the probe k of row r = who[k]\n"
"with feature group j = which[k] at its reference: in each tree (in order) where bit j of mask[leaf] is\n"
"set, the probe walks from start[leaf, j] reading X[r] except at features of group j (reference),\n"
"and the change is value[its leaf] - value[leaf]. Numeric splits only. X: float64 (rows, columns);\n"
"group: int32 per column (-1: none); reference: float64 per column; raw: float64 (rows,);\n"
"leaves: int32 (rows, trees); who, which: int64 (probes,), who sorted, one probe per (row, group);\n"
"mask: uint64 per node; start: int32 (nodes, groups); out: float64 (probes,).");

static PyObject *
probe(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *o_nodes, *o_value, *o_group, *o_X, *o_ref, *o_raw, *o_leaves, *o_who, *o_which, *o_mask, *o_start,
        *o_out;
    Py_buffer nodes, value, group, X, ref, raw, leaves, who, which, mask, start, out;
    Py_buffer *views[12] = {&nodes, &value, &group, &X, &ref, &raw, &leaves, &who, &which, &mask, &start, &out};
    Py_ssize_t n_nodes, n_rows, n_columns, n_trees, n_groups, n_probes, k;
    PyObject *result = NULL;
    int got = 0, i, categorical = 0;
    const char *bad = NULL;
    int32_t *walk_node = NULL, *walk_leaf = NULL, *walk_group = NULL; /* one row's diverging walks */

    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOO:probe", &o_nodes, &o_value, &o_group, &o_X, &o_ref, &o_raw,
                          &o_leaves, &o_who, &o_which, &o_mask, &o_start, &o_out))
        return NULL;
    const array_arg wanted[12] = {
        {o_nodes, "nodes", 0, sizeof(node_t), 1, 0},
        {o_value, "value", 'd', 8, 1, 0},
        {o_group, "group", 'i', 4, 1, 0},
        {o_X, "X", 'd', 8, 2, 0},
        {o_ref, "reference", 'd', 8, 1, 0},
        {o_raw, "raw", 'd', 8, 1, 0},
        {o_leaves, "leaves", 'i', 4, 2, 0},
        {o_who, "who", 'l', 8, 1, 0},
        {o_which, "which", 'l', 8, 1, 0},
        {o_mask, "mask", 'L', 8, 1, 0},
        {o_start, "start", 'i', 4, 2, 0},
        {o_out, "out", 'd', 8, 1, 1},
    };
    if (get_arrays(wanted, views, 12) < 0)
        goto end;
    got = 12;
    n_nodes = nodes.shape[0];
    n_rows = X.shape[0];
    n_columns = X.shape[1];
    n_trees = leaves.shape[1];
    n_groups = start.shape[1];
    n_probes = who.shape[0];
    if (value.shape[0] != n_nodes || mask.shape[0] != n_nodes || start.shape[0] != n_nodes)
        bad = "value, mask and start must have a row per node";
    else if (group.shape[0] != n_columns || ref.shape[0] != n_columns)
        bad = "group and reference must have a value per column of X";
    else if (raw.shape[0] != n_rows || leaves.shape[0] != n_rows)
        bad = "raw and leaves must have a row per row of X";
    else if (which.shape[0] != n_probes || out.shape[0] != n_probes)
        bad = "who, which and out must have a value per probe";
    else if (n_groups > 64)
        bad = "at most 64 feature groups";
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto end;
    }
    if (check_nodes(nodes.buf, n_nodes, n_columns, NULL, NULL, NULL, &categorical) < 0)
        goto end;
    if (categorical) {
        PyErr_SetString(PyExc_ValueError, "nodes: probes walk numeric splits only");
        goto end;
    }
    {
        const int64_t *w = who.buf, *g = which.buf;
        const int32_t *l = leaves.buf, *s = start.buf, *gr = group.buf;
        uint64_t seen = 0;
        for (k = 0; k < n_probes && !bad; k++) {
            if (w[k] < 0 || w[k] >= n_rows || (k && w[k] < w[k - 1]) || g[k] < 0 || g[k] >= n_groups) {
                bad = "who must be sorted rows of X and which groups of start";
                break;
            }
            if (k && w[k] != w[k - 1])
                seen = 0;
            if (seen & ((uint64_t)1 << g[k]))
                bad = "one probe per (row, group)";
            seen |= (uint64_t)1 << g[k];
        }
        for (k = 0; k < n_rows * n_trees && !bad; k++)
            if (l[k] < 0 || l[k] >= n_nodes)
                bad = "leaves must be nodes of the table";
        for (k = 0; k < n_nodes * n_groups && !bad; k++)
            if (s[k] < -1 || s[k] >= n_nodes)
                bad = "start must be -1 or nodes of the table";
        for (k = 0; k < n_columns && !bad; k++)
            if (gr[k] < -1 || gr[k] >= n_groups)
                bad = "group must be -1 or groups of start";
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto end;
    }
    walk_node = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n_trees * n_groups + 1));
    walk_leaf = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n_trees * n_groups + 1));
    walk_group = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n_trees * n_groups + 1));
    if (walk_node == NULL || walk_leaf == NULL || walk_group == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        const node_t *table = nodes.buf;
        const double *v = value.buf, *x = X.buf, *reference = ref.buf, *r = raw.buf;
        const int32_t *gr = group.buf, *l = leaves.buf, *s = start.buf;
        const int64_t *w = who.buf, *g = which.buf;
        const uint64_t *m = mask.buf;
        double *o = out.buf;
        double change[64];
        Py_ssize_t lo = 0, hi, t, a, b, n_walks;

        /* the probes of one row at a time: its diverging (tree, group) walks listed in tree order, walked
         * LANES at a time branch-free (as DEFINE_WALK), then each group's changes added in tree order,
         * as np.bincount adds the (probe, tree) changes */
        while (lo < n_probes) {
            Py_ssize_t row = (Py_ssize_t)w[lo];
            const double *xr = x + row * n_columns;
            const int32_t *lr = l + row * n_trees;
            uint64_t wanted = 0;
            for (hi = lo; hi < n_probes && w[hi] == w[lo]; hi++) {
                wanted |= (uint64_t)1 << g[hi];
                change[g[hi]] = 0.0;
            }
            n_walks = 0;
            for (t = 0; t < n_trees; t++) {
                int32_t leaf = lr[t];
                uint64_t diverging = m[leaf] & wanted;
                while (diverging) {
                    int j = __builtin_ctzll(diverging);
                    int32_t node = s[(Py_ssize_t)leaf * n_groups + j];
                    diverging &= diverging - 1;
                    if (node < 0)
                        continue; /* a mask that says more than start: no divergence */
                    walk_node[n_walks] = node;
                    walk_leaf[n_walks] = leaf;
                    walk_group[n_walks++] = j;
                }
            }
            for (a = 0; a < n_walks; a += LANES) {
                Py_ssize_t stop = a + LANES < n_walks ? a + LANES : n_walks;
                uint32_t inner = 1;
                while (inner) {
                    inner = 0;
                    for (b = a; b < stop; b++) {
                        const node_t *nd = table + walk_node[b];
                        double val = gr[nd->feature] == walk_group[b] ? reference[nd->feature] : xr[nd->feature];
                        int left = (val <= nd->threshold) | ((val != val) & (int)(nd->info & NAN_LEFT));
                        walk_node[b] = nd->child[!left]; /* a leaf is its own child */
                        inner |= ~table[walk_node[b]].info;
                    }
                    inner &= LEAF;
                }
            }
            for (a = 0; a < n_walks; a++)
                change[walk_group[a]] += v[walk_node[a]] - v[walk_leaf[a]];
            for (k = lo; k < hi; k++)
                o[k] = r[row] + change[g[k]];
            lo = hi;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
end:
    PyMem_RawFree(walk_node);
    PyMem_RawFree(walk_leaf);
    PyMem_RawFree(walk_group);
    for (i = 0; i < got; i++)
        PyBuffer_Release(views[i]);
    return result;
}

/* -- module ------------------------------------------------------------------------------------ */

static PyObject *
node_size(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(unused))
{
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(node_t));
}

static PyMethodDef methods[] = {
    {"isolation", isolation, METH_VARARGS, isolation_doc},
    {"booster", booster, METH_VARARGS, booster_doc},
    {"probe", probe, METH_VARARGS, probe_doc},
    {"node_size", node_size, METH_NOARGS, "Bytes per node of the table."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "riskengine.model._walk",
    "All trees of a forest over a block of rows, with scikit-learn's comparisons and sums.", -1, methods,
};

PyMODINIT_FUNC
PyInit__walk(void)
{
    return PyModule_Create(&module);
}
