/* SMILES reader: organic subset, bracket atoms (isotope, symbol, chirality, H count, charge,
 * atom class), bonds - = # $ : / \, branches, ring closures (digits, %nn, %(nnn)) and '.'.
 * Builds the raw graph only; chemistry (valence, aromaticity) happens in later stages.
 * An unspecified bond between two aromatic atoms is aromatic, otherwise single (as RDKit). */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <ctype.h>
#include <string.h>

#define MAX_RING_LABEL 1000
#define MAX_DEPTH 10000

static int fail(int *err_pos, int pos, const char *what, const char *s)
{
    *err_pos = pos;
    lf_error(LF_ERR_FORMAT, "SMILES '%.60s%s': %s at position %d", s, strlen(s) > 60 ? "..." : "",
             what, pos);
    return -1;
}

static int add_atom(lf_mol *m)
{
    if (m->n_atoms == m->cap_atoms) {
        int cap = m->cap_atoms ? 2 * m->cap_atoms : 32;
        lf_atom *a = lf_realloc(m->atoms, (size_t)cap * sizeof *a);
        if (!a) return -1;
        m->atoms = a;
        m->cap_atoms = cap;
    }
    memset(&m->atoms[m->n_atoms], 0, sizeof(lf_atom));
    return m->n_atoms++;
}

static int add_bond(lf_mol *m, int a, int b, int order, int explicit_sym, char dir)
{
    if (m->n_bonds == m->cap_bonds) {
        int cap = m->cap_bonds ? 2 * m->cap_bonds : 32;
        lf_bond *x = lf_realloc(m->bonds, (size_t)cap * sizeof *x);
        if (!x) return -1;
        m->bonds = x;
        m->cap_bonds = cap;
    }
    lf_bond *bd = &m->bonds[m->n_bonds];
    memset(bd, 0, sizeof *bd);
    bd->a = a;
    bd->b = b;
    bd->explicit_sym = (uint8_t)explicit_sym;
    bd->dir = dir;
    if (!explicit_sym && m->atoms[a].aromatic && m->atoms[b].aromatic) order = LF_BOND_AROMATIC;
    bd->order = order;
    bd->aromatic = order == LF_BOND_AROMATIC;
    return m->n_bonds++;
}

/* aromatic symbols RDKit accepts: organic b c n o p s; in brackets also se as te si */
static int aromatic_symbol(const char *p, int in_bracket, int *len)
{
    static const char *two[] = {"se", "as", "te", "si"};
    if (in_bracket)
        for (int i = 0; i < 4; i++)
            if (!strncmp(p, two[i], 2)) {
                *len = 2;
                char up[3] = {(char)toupper((unsigned char)p[0]), p[1], 0};
                return lf_element_lookup(up, 2);
            }
    static const char one[] = "bcnops";
    if (*p && strchr(one, *p)) {
        *len = 1;
        char up[2] = {(char)toupper((unsigned char)*p), 0};
        return lf_element_lookup(up, 1);
    }
    return -1;
}

static int read_int(const char *s, int *i, int max_digits)
{
    int v = 0, n = 0;
    while (isdigit((unsigned char)s[*i]) && n < max_digits) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    return n ? v : -1;
}

/* parses "[...]" starting at s[*i] == '['; returns atom index or -1 */
static int parse_bracket(const char *s, int *i, lf_mol *m, int *err_pos)
{
    int start = *i;
    (*i)++;
    int iso = read_int(s, i, 4);
    int z = -1, arom = 0, len = 0;
    const char *p = s + *i;
    if (*p == '*') {
        z = 0;
        len = 1;
    } else if (isupper((unsigned char)*p)) {
        if (islower((unsigned char)p[1]) && (z = lf_element_lookup(p, 2)) >= 0) len = 2;
        else if ((z = lf_element_lookup(p, 1)) >= 0) len = 1;
    } else if (islower((unsigned char)*p)) {
        z = aromatic_symbol(p, 1, &len);
        arom = 1;
    }
    if (z < 0) return fail(err_pos, *i, "unknown element", s);
    *i += len;
    int a = add_atom(m);
    if (a < 0) return fail(err_pos, start, "out of memory", s);
    lf_atom *at = &m->atoms[a];
    at->z = z;
    at->aromatic = (uint8_t)arom;
    at->bracket = 1;
    at->isotope = iso > 0 ? iso : 0;
    at->pos = start;
    if (s[*i] == '@') {
        (*i)++;
        at->chiral = LF_CHI_CCW;
        if (s[*i] == '@') {
            (*i)++;
            at->chiral = LF_CHI_CW;
        } else if (!strncmp(s + *i, "TH", 2) && (s[*i + 2] == '1' || s[*i + 2] == '2')) {
            at->chiral = s[*i + 2] == '1' ? LF_CHI_CCW : LF_CHI_CW;
            *i += 3;
        } else if (isupper((unsigned char)s[*i]) && isupper((unsigned char)s[*i + 1]) &&
                   (!strncmp(s + *i, "AL", 2) || !strncmp(s + *i, "SP", 2) ||
                    !strncmp(s + *i, "TB", 2) || !strncmp(s + *i, "OH", 2))) {
            /* non-tetrahedral classes: accepted, not used by the fingerprints */
            *i += 2;
            read_int(s, i, 2);
            at->chiral = LF_CHI_NONE;
        }
    }
    if (s[*i] == 'H') {
        (*i)++;
        int h = read_int(s, i, 2);
        at->h_explicit = h < 0 ? 1 : h;
    }
    if (s[*i] == '+' || s[*i] == '-') {
        int sign = s[*i] == '+' ? 1 : -1;
        char c = s[*i];
        (*i)++;
        int n = read_int(s, i, 2);
        if (n < 0) {
            n = 1;
            while (s[*i] == c) {
                n++;
                (*i)++;
            }
        }
        at->charge = sign * n;
    }
    if (s[*i] == ':') {
        (*i)++;
        int cls = read_int(s, i, 9);
        if (cls < 0) return fail(err_pos, *i, "atom class needs digits", s);
        at->atom_class = cls;
    }
    if (s[*i] != ']') return fail(err_pos, *i, s[*i] ? "unexpected character in bracket atom" : "unclosed bracket atom", s);
    (*i)++;
    return a;
}

typedef struct { int atom, order, explicit_sym, pos; char dir; } ring_open;

lf_status lf_smiles_read(const char *s, lf_mol *m, int *err_pos)
{
    ring_open *rings = lf_calloc(MAX_RING_LABEL, sizeof *rings);
    /* depth never exceeds the number of '(': the stacks need no more room than the string */
    const size_t len = strlen(s);
    const int depth_cap = len + 1 < MAX_DEPTH ? (int)len + 1 : MAX_DEPTH;
    int *stack = lf_malloc(sizeof(int) * (size_t)depth_cap);
    int *stack_pos = lf_malloc(sizeof(int) * (size_t)depth_cap);
    lf_status st = LF_ERR_FORMAT;
    if (!rings || !stack || !stack_pos) {
        st = lf_error(LF_ERR_NOMEM, "SMILES parser: out of memory");
        goto done;
    }
    for (int k = 0; k < MAX_RING_LABEL; k++) rings[k].atom = -1;
    int depth = 0, prev = -1, i = 0;
    int bond_order = 0, bond_pos = -1; /* pending bond symbol */
    char bond_dir = 0;
    if (!s[0]) {
        fail(err_pos, 0, "empty SMILES", s);
        goto done;
    }
    while (s[i]) {
        char c = s[i];
        int a = -1;
        if (c == '(') {
            if (prev < 0 || bond_order) { fail(err_pos, i, "branch without an atom before it", s); goto done; }
            if (depth >= depth_cap) { fail(err_pos, i, "branches nested too deeply", s); goto done; }
            stack_pos[depth] = i;
            stack[depth++] = prev;
            i++;
            if (s[i] == ')') { fail(err_pos, i, "empty branch", s); goto done; }
            continue;
        }
        if (c == ')') {
            if (depth == 0) { fail(err_pos, i, "unbalanced ')'", s); goto done; }
            if (bond_order) { fail(err_pos, bond_pos, "bond without an atom after it", s); goto done; }
            prev = stack[--depth];
            i++;
            continue;
        }
        if (c == '.') {
            if (bond_order) { fail(err_pos, bond_pos, "bond without an atom after it", s); goto done; }
            if (prev < 0) { fail(err_pos, i, "'.' without an atom before it", s); goto done; }
            prev = -1;
            i++;
            continue;
        }
        if (strchr("-=#$:/\\", c)) {
            if (bond_order && bond_dir && (c == '/' || c == '\\')) {
                /* RDKit reads a doubled direction mark ("\\\\" as written in some data sets) as one */
                i++;
                continue;
            }
            if (bond_order) { fail(err_pos, i, "two bond symbols in a row", s); goto done; }
            if (prev < 0) { fail(err_pos, i, "bond without an atom before it", s); goto done; }
            bond_order = c == '=' ? LF_BOND_DOUBLE : c == '#' ? LF_BOND_TRIPLE : c == '$' ? LF_BOND_QUADRUPLE
                       : c == ':' ? LF_BOND_AROMATIC : LF_BOND_SINGLE;
            bond_dir = (c == '/' || c == '\\') ? c : 0;
            bond_pos = i;
            i++;
            continue;
        }
        if (isdigit((unsigned char)c) || c == '%') {
            int pos = i, label;
            if (prev < 0) { fail(err_pos, i, "ring closure without an atom before it", s); goto done; }
            if (c == '%') {
                i++;
                if (s[i] == '(') {
                    i++;
                    label = read_int(s, &i, 3);
                    if (label < 0 || s[i] != ')') { fail(err_pos, pos, "bad %(n) ring label", s); goto done; }
                    i++;
                } else {
                    if (!isdigit((unsigned char)s[i]) || !isdigit((unsigned char)s[i + 1])) {
                        fail(err_pos, pos, "'%' needs two digits", s);
                        goto done;
                    }
                    label = (s[i] - '0') * 10 + (s[i + 1] - '0');
                    i += 2;
                }
            } else {
                label = c - '0';
                i++;
            }
            ring_open *r = &rings[label];
            if (r->atom < 0) {
                r->atom = prev;
                r->order = bond_order ? bond_order : LF_BOND_SINGLE;
                r->explicit_sym = bond_order != 0;
                r->dir = bond_dir;
                r->pos = pos;
            } else {
                if (r->atom == prev) { fail(err_pos, pos, "ring closure onto the same atom", s); goto done; }
                for (int k = 0; k < m->n_bonds; k++) {
                    const lf_bond *b = &m->bonds[k];
                    if ((b->a == prev && b->b == r->atom) || (b->b == prev && b->a == r->atom)) {
                        fail(err_pos, pos, "ring closure duplicates a bond", s);
                        goto done;
                    }
                }
                int order = r->order, ex = r->explicit_sym;
                if (bond_order) {
                    if (ex && order != bond_order) { fail(err_pos, pos, "conflicting ring closure bond orders", s); goto done; }
                    order = bond_order;
                    ex = 1;
                }
                /* RDKit's ring bond starts at the opening atom when a bond symbol was written
                 * there, otherwise at the closing atom; a '/' '\\' mark is read from its start
                 * (the opening one wins, a closing one is reversed to fit) */
                int from_open = r->explicit_sym;
                char dir = r->dir ? r->dir : bond_dir == '/' ? '\\' : bond_dir == '\\' ? '/' : 0;
                if (!from_open) dir = bond_dir;
                if (add_bond(m, from_open ? r->atom : prev, from_open ? prev : r->atom, order, ex, dir) < 0) {
                    st = lf_error(LF_ERR_NOMEM, "SMILES parser: out of memory");
                    goto done;
                }
                lf_bond *rb = &m->bonds[m->n_bonds - 1];
                rb->key_a = from_open ? r->pos : pos;
                rb->key_b = from_open ? pos : r->pos;
                rb->ring_closure = from_open ? 1 : 2; /* 2: starts at the closing atom */
                r->atom = -1;
            }
            bond_order = 0;
            bond_dir = 0;
            continue;
        }
        if (c == '[') {
            a = parse_bracket(s, &i, m, err_pos);
            if (a < 0) goto done;
        } else {
            int z = -1, len = 1, arom = 0;
            if (c == '*') z = 0;
            else if (c == 'C' && s[i + 1] == 'l') { z = 17; len = 2; }
            else if (c == 'B' && s[i + 1] == 'r') { z = 35; len = 2; }
            else if (strchr("BCNOPSFI", c)) z = lf_element_lookup(&s[i], 1);
            else if (islower((unsigned char)c)) { z = aromatic_symbol(&s[i], 0, &len); arom = 1; }
            if (z < 0) {
                fail(err_pos, i, isalpha((unsigned char)c) ? "unknown element (not in the organic subset; use brackets)"
                                                           : "unexpected character", s);
                goto done;
            }
            a = add_atom(m);
            if (a < 0) { st = lf_error(LF_ERR_NOMEM, "SMILES parser: out of memory"); goto done; }
            m->atoms[a].z = z;
            m->atoms[a].aromatic = (uint8_t)arom;
            m->atoms[a].pos = i;
            i += len;
        }
        /* a bracket H follows the preceding atom in the neighbour order, or comes first */
        m->atoms[a].h_key = prev >= 0 ? -1 : -3;
        if (prev >= 0) {
            if (add_bond(m, prev, a, bond_order ? bond_order : LF_BOND_SINGLE, bond_order != 0, bond_dir) < 0) {
                st = lf_error(LF_ERR_NOMEM, "SMILES parser: out of memory");
                goto done;
            }
            m->bonds[m->n_bonds - 1].key_a = m->atoms[a].pos;
            m->bonds[m->n_bonds - 1].key_b = -2;
        } else if (bond_order) {
            fail(err_pos, bond_pos, "bond without an atom before it", s);
            goto done;
        }
        bond_order = 0;
        bond_dir = 0;
        prev = a;
    }
    if (bond_order) { fail(err_pos, bond_pos, "bond without an atom after it", s); goto done; }
    if (depth) { fail(err_pos, stack_pos[depth - 1], "unclosed branch '('", s); goto done; }
    for (int k = 0; k < MAX_RING_LABEL; k++)
        if (rings[k].atom >= 0) { fail(err_pos, rings[k].pos, "unclosed ring", s); goto done; }
    st = LF_OK;
done:
    lf_free(rings);
    lf_free(stack);
    lf_free(stack_pos);
    return st;
}
