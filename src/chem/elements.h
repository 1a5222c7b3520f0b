/* Periodic-table values the chemistry module needs, as RDKit defines them (valence lists,
 * outer-shell electrons, atomic weights, isotope mass offsets). The table itself is generated
 * from RDKit by tests/parity/gen_chem_table.py into elements_table.c. */
#ifndef LF_CHEM_ELEMENTS_H
#define LF_CHEM_ELEMENTS_H

#define LF_N_ELEMENTS 119

typedef struct lf_element {
    const char *symbol;
    int n_outer;      /* outer-shell electrons */
    int valence[6];   /* allowed valences, ascending; -1 = any; -2 = end of list */
    double weight;    /* average atomic weight */
} lf_element;

typedef struct lf_isotope {
    short z, iso;
    short delta; /* (int)(isotope mass - average weight), truncated toward zero */
} lf_isotope;

extern const lf_element lf_elements[LF_N_ELEMENTS];
extern const lf_isotope lf_isotopes[];
extern const int lf_n_isotopes;

/* Atomic number of a symbol of length len (exact case), or -1. */
int lf_element_lookup(const char *sym, int len);
/* First listed valence (RDKit's "default valence"); -1 when any valence is allowed. */
int lf_default_valence(int z);
/* (int)(mass of isotope - average weight) as RDKit's default Morgan invariant uses it. */
int lf_isotope_delta(int z, int iso);
/* RDKit's "more electronegative": more outer electrons, or equal and lighter. */
int lf_more_electronegative(int z1, int z2);

#endif
