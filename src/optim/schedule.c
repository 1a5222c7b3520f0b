/* Learning-rate and momentum schedules: pure functions of the step (formulas in labelfree.h). */
#include "labelfree.h"

#include <math.h>

#define LF_PI 3.14159265358979323846

double lf_lr_at(const lf_lr_schedule *s, int64_t step)
{
    if (step < 0) step = 0;
    if (step < s->warmup_steps)
        return s->warmup_start + (s->base - s->warmup_start) * (double)step / (double)s->warmup_steps;
    int64_t decay_steps = s->total_steps - s->warmup_steps;
    if (decay_steps <= 0 || step >= s->total_steps) return decay_steps <= 0 ? s->base : s->final;
    double progress = (double)(step - s->warmup_steps) / (double)decay_steps;
    return s->final + (s->base - s->final) * 0.5 * (1.0 + cos(LF_PI * progress));
}

double lf_cosine_momentum(double base, double final, int64_t step, int64_t total)
{
    if (total <= 0 || step >= total) return final;
    if (step < 0) step = 0;
    return final + (base - final) * 0.5 * (1.0 + cos(LF_PI * (double)step / (double)total));
}
