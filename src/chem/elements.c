/* Lookups into the generated element table. */
#include "chem/elements.h"

#include <string.h>

int lf_element_lookup(const char *sym, int len)
{
    for (int z = 0; z < LF_N_ELEMENTS; z++)
        if ((int)strlen(lf_elements[z].symbol) == len && !strncmp(lf_elements[z].symbol, sym, (size_t)len))
            return z;
    return -1;
}

int lf_default_valence(int z)
{
    if (z < 0 || z >= LF_N_ELEMENTS) return -1;
    return lf_elements[z].valence[0];
}

int lf_isotope_delta(int z, int iso)
{
    if (z <= 0 || z >= LF_N_ELEMENTS) return 0;
    /* the table is sorted by (z, iso): binary search */
    int lo = 0, hi = lf_n_isotopes - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const lf_isotope *e = &lf_isotopes[mid];
        if (e->z == z && e->iso == iso) return e->delta;
        if (e->z < z || (e->z == z && e->iso < iso)) lo = mid + 1;
        else hi = mid - 1;
    }
    /* unknown isotope: RDKit takes the mass number itself as the mass */
    return (int)((double)iso - lf_elements[z].weight);
}

int lf_more_electronegative(int z1, int z2)
{
    int n1 = lf_elements[z1].n_outer, n2 = lf_elements[z2].n_outer;
    return n1 > n2 || (n1 == n2 && z1 < z2);
}
