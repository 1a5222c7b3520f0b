/* The molecule graph shared by the chemistry files: atoms, bonds, adjacency, rings.
 * Pipeline (mol.c): smiles.c parses -> valence.c cleans up groups, computes implicit Hs and
 * folds plain [H] atoms into their neighbours -> rings.c finds rings -> kekulize.c turns
 * aromatic input into single/double bonds -> aromaticity.c re-perceives aromaticity with
 * RDKit's default model -> morgan.c hashes environments. */
#ifndef LF_CHEM_MOLECULE_H
#define LF_CHEM_MOLECULE_H

#include "labelfree.h"

#include <stdint.h>

/* bond orders use RDKit's enum values, because they enter the Morgan hash */
enum { LF_BOND_SINGLE = 1, LF_BOND_DOUBLE = 2, LF_BOND_TRIPLE = 3, LF_BOND_QUADRUPLE = 4,
       LF_BOND_AROMATIC = 12 };
enum { LF_CHI_NONE = 0, LF_CHI_CW = 1, LF_CHI_CCW = 2 }; /* @@ = clockwise, @ = anticlockwise */

typedef struct lf_atom {
    int z;
    int charge;
    int isotope;
    int h_explicit;   /* Hs written in the bracket, plus folded [H] neighbours */
    int h_implicit;   /* from the default valence model (organic subset only) */
    int radicals;
    int atom_class;
    int pos;          /* character position in the SMILES (for errors) */
    uint8_t aromatic;
    uint8_t bracket;  /* written in [] : no implicit Hs */
    uint8_t chiral;   /* LF_CHI_* */
    uint8_t removed;  /* plain [H] folded into its neighbour */
    uint8_t in_ring;
    char cip;         /* 'R', 'S' or 0 (for chiral Morgan) */
    int h_key;        /* where the (single) H sits in the SMILES neighbour order, see lf_bond.key_a */
} lf_atom;

typedef struct lf_bond {
    int a, b;
    int order;        /* LF_BOND_* */
    uint8_t aromatic;
    uint8_t in_ring;
    uint8_t explicit_sym; /* written with a bond symbol */
    uint8_t ring_closure; /* made by a ring-closure digit: 1, or 2 when it starts at the closing atom */
    char dir;         /* '/', '\\' or 0 */
    int stereo;       /* RDKit Bond::BondStereo value for double bonds (0 = none, 2 = Z, 3 = E) */
    /* order of this bond among the neighbours of atom a (key_a) and of atom b (key_b) as the
     * SMILES wrote them, which is what '@'/'@@' refer to: -2 for the bond to the preceding
     * atom, otherwise the text position of the ring-closure digit or of the following atom */
    int key_a, key_b;
} lf_bond;

struct lf_mol {
    int n_atoms, n_bonds;
    int cap_atoms, cap_bonds;
    lf_atom *atoms;
    lf_bond *bonds;
    /* adjacency: nbr_bond[adj_start[i] .. adj_start[i+1]) are bond indices of atom i, in
     * the order SMILES defines them (this order carries the chirality parity) */
    int *adj_start, *adj_bond;
    /* rings (symmetrized SSSR-like set of relevant cycles): atoms and bonds of ring r */
    int n_rings;
    int *ring_start, *ring_atoms, *ring_bonds;
};

static inline int lf_bond_other(const lf_bond *b, int a) { return b->a == a ? b->b : b->a; }
int lf_mol_degree(const lf_mol *m, int a);
/* explicit valence: bond orders (aromatic counted 1.5, rounded as RDKit) + explicit Hs */
int lf_mol_explicit_valence(const lf_mol *m, int a);
int lf_mol_total_h(const lf_mol *m, int a, int with_h_neighbours);

/* stages; each returns 0 or sets *err_pos and lf_error */
lf_status lf_smiles_read(const char *s, lf_mol *m, int *err_pos);
lf_status lf_mol_build_adjacency(lf_mol *m);
lf_status lf_mol_cleanup(lf_mol *m);
lf_status lf_mol_assign_valence(lf_mol *m, int *err_pos);
void lf_mol_assign_radicals(lf_mol *m);
lf_status lf_mol_find_rings(lf_mol *m);
lf_status lf_mol_kekulize(lf_mol *m, int *err_pos);
void lf_mol_aromatize(lf_mol *m);
void lf_mol_fold_hydrogens(lf_mol *m);
/* RDKit's legacy stereo perception (assignStereochemistry, cleanIt): CIP ranks, R/S labels,
 * E/Z of double bonds, and removal of '@' marks on atoms that are not stereocentres */
lf_status lf_mol_assign_stereo(lf_mol *m);
/* how a formal charge moves the allowed valences: +charge, sign flipped for elements with
 * fewer than 4 outer electrons, and a carbocation loses a valence like a carbanion */
int lf_valence_charge_shift(int z, int charge);

#endif
