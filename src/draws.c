/* Simulation draws (see draws.h for the layout and the contract).
 *
 * Every type first produces uniforms in (0, 1) for a chunk of individuals,
 * individual-major (point k of individual i at buf[(i - i0) * R_gen + k]),
 * then maps them to normals and writes them into the N x R x D array draw by
 * draw, so that the writes run along contiguous individuals. With
 * antithetic draws only R_gen = R / 2 points are generated per individual;
 * draw R_gen + k is minus draw k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draws.h"
#include "omp_compat.h"

/* ------------------------------------------------------------------------ */
/* Pseudo-random numbers: xoshiro256** (Blackman and Vigna), state filled by
 * splitmix64. One stream per purpose, dimension and individual, so that no
 * output depends on the order in which anything else was generated. */

#define STREAM_PSEUDO 1
#define STREAM_MLHS 2
#define STREAM_HALTON 3
#define STREAM_SOBOL 4
#define STREAM_SOBOL_TABLE 5
/* Seeds the direction numbers of Sobol dimensions beyond the typed table:
 * fixed, so that unscrambled Sobol draws do not depend on the seed. */
#define SOBOL_TABLE_SEED 0x1C1D50B01ULL

typedef struct {
  uint64_t s[4];
} rng_state;

static uint64_t splitmix64_next(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static inline uint64_t rotate_left(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_state *g) {
  uint64_t *s = g->s;
  uint64_t result = rotate_left(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotate_left(s[3], 45);
  return result;
}

/* Each key is folded in through a splitmix64 step, so that streams for
 * neighbouring (dimension, individual) pairs are unrelated. */
static void rng_seed(rng_state *g, uint64_t seed, uint64_t purpose, uint64_t dim,
                     uint64_t indiv) {
  uint64_t state = seed;
  state = splitmix64_next(&state) ^ purpose;
  state = splitmix64_next(&state) ^ dim;
  state = splitmix64_next(&state) ^ indiv;
  for (int k = 0; k < 4; k++) g->s[k] = splitmix64_next(&state);
}

/* Uniform on the grid (j + 1/2) 2^-53: strictly inside (0, 1). */
static inline double rng_uniform(rng_state *g) {
  return ((double) (rng_next(g) >> 11) + 0.5) * 0x1p-53;
}

/* Integer in [0, n) for n < 2^32 (multiply-shift; bias below 2^-32 * n). */
static inline uint32_t rng_below(rng_state *g, uint32_t n) {
  return (uint32_t) (((rng_next(g) >> 32) * (uint64_t) n) >> 32);
}

/* ------------------------------------------------------------------------ */
/* Standard normal quantile: Wichura (1988), AS 241 (PPND16). Three rational
 * approximations: the centre |u - 1/2| <= 0.425, then in r = sqrt(-log(tail))
 * for r <= 5 and r > 5. */

static double poly7(const double *c, double x) {
  return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x + c[1]) * x +
         c[0];
}

static const double qnorm_centre_num[8] = {
    3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
    1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
    3.3430575583588128105e+4, 2.5090809287301226727e+3};
static const double qnorm_centre_den[8] = {
    1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
    2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
    5.2264952788528545610e+3};
static const double qnorm_near_num[8] = {
    1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
    3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
    2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double qnorm_near_den[8] = {
    1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
    1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
    1.05075007164441684324e-9};
static const double qnorm_far_num[8] = {
    6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
    2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
    2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double qnorm_far_den[8] = {
    1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
    7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
    2.04426310338993978564e-15};

/* Centre, |q| <= 0.425 with q = u - 1/2. Branch-free so that the loop over a
 * draw's individuals vectorises; the tails are patched afterwards. */
static inline double qnorm_centre(double q) {
  double r = 0.180625 - q * q;
  return q * poly7(qnorm_centre_num, r) / poly7(qnorm_centre_den, r);
}

/* Tails, |q| > 0.425, 0 < u < 1. */
static double qnorm_tail(double u) {
  double q = u - 0.5;
  double r = sqrt(-log(q < 0.0 ? u : 1.0 - u));
  double z;
  if (r <= 5.0) {
    r -= 1.6;
    z = poly7(qnorm_near_num, r) / poly7(qnorm_near_den, r);
  } else {
    r -= 5.0;
    z = poly7(qnorm_far_num, r) / poly7(qnorm_far_den, r);
  }
  return q < 0.0 ? -z : z;
}

double iclv_qnorm(double u) {
  if (!(u >= 0.0 && u <= 1.0)) return NAN;
  if (u == 0.0) return -INFINITY;
  if (u == 1.0) return INFINITY;
  double q = u - 0.5;
  return fabs(q) <= 0.425 ? qnorm_centre(q) : qnorm_tail(u);
}

/* The generators give uniforms in (0, 1) except in events of probability
 * about 2^-52 (a scrambled point at exactly 0, an MLHS point rounded up to
 * 1); those are clamped to the finest grid so that no draw is infinite. */
static inline double clamp_uniform(double u) {
  const double lowest = 0x1p-53, highest = 1.0 - 0x1p-53;
  return u < lowest ? lowest : (u > highest ? highest : u);
}

/* ------------------------------------------------------------------------ */
/* Pseudo-random and MLHS uniforms for individuals i0 .. i0 + n_chunk - 1. */

static void fill_pseudo(uint64_t seed, int dim, uint64_t i0, int n_chunk, int n_gen, double *buf) {
  rng_state g;
  for (int k = 0; k < n_chunk; k++) {
    rng_seed(&g, seed, STREAM_PSEUDO, (uint64_t) dim, i0 + (uint64_t) k);
    double *point = buf + (size_t) k * n_gen;
    for (int r = 0; r < n_gen; r++) point[r] = rng_uniform(&g);
  }
}

/* Hess, Train and Polak (2006): the R points (r + shift) / R, r = 0..R-1,
 * one uniform shift per individual and dimension, in a random order. */
static void fill_mlhs(uint64_t seed, int dim, uint64_t i0, int n_chunk, int n_gen, double *buf) {
  rng_state g;
  for (int k = 0; k < n_chunk; k++) {
    rng_seed(&g, seed, STREAM_MLHS, (uint64_t) dim, i0 + (uint64_t) k);
    double *point = buf + (size_t) k * n_gen;
    double shift = rng_uniform(&g);
    for (int r = 0; r < n_gen; r++) point[r] = ((double) r + shift) / (double) n_gen;
    for (int r = n_gen - 1; r > 0; r--) { /* Fisher-Yates */
      uint32_t j = rng_below(&g, (uint32_t) r + 1u);
      double swap = point[r];
      point[r] = point[j];
      point[j] = swap;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Halton: the radical inverse of the point index n in the d-th prime base b,
 * phi(n) = sum_pos perm_pos(digit_pos(n)) b^-(pos + 1), over all positions
 * (the leading zeros of n included). Unscrambled, perm_pos is the identity
 * and the sum is finite. Scrambled (Matousek's random digit scrambling), each
 * (base, digit position) has its own random permutation of all b digits, 0
 * included: every point is then uniform on (0, 1), and base 2 is scrambled
 * too (a permutation fixing 0 would leave it unchanged). The leading zeros
 * then contribute sum_pos perm_pos(0) b^-(pos + 1), summed up to
 * HALTON_POSITIONS digits, beyond which it is below double precision.
 *
 * The points of a chunk are consecutive indices, so phi is split into a
 * table for the `low_digits` lowest digits and a part for the higher digits
 * that changes only every b^low_digits points. */

#define HALTON_POSITIONS 64 /* digits of an index < 2^64 in base 2 */

typedef struct {
  uint32_t base;
  uint64_t low_size;   /* base^low_digits */
  int low_digits;
  double *digit_value; /* [pos * base + digit]: perm_pos(digit) * base^-(pos + 1) */
  double *low_table;   /* [n mod low_size]: phi of the low digits */
  double zeros_from[HALTON_POSITIONS + 1]; /* [pos]: value of zeros at positions pos and above */
} halton_dim;

static void halton_free(halton_dim *h) {
  free(h->digit_value);
  free(h->low_table);
  h->digit_value = h->low_table = NULL;
}

/* Returns 0, or -1 when out of memory (nothing left allocated). */
static int halton_setup(halton_dim *h, uint32_t base, int scramble, uint64_t seed, int dim) {
  h->base = base;
  h->low_digits = 0;
  h->low_size = 1;
  while (h->low_size < 512) { /* a table of a few KB */
    h->low_size *= base;
    h->low_digits++;
  }
  h->digit_value = malloc(sizeof(double) * HALTON_POSITIONS * base);
  h->low_table = malloc(sizeof(double) * h->low_size);
  uint32_t *perm = malloc(sizeof(uint32_t) * base);
  if (h->digit_value == NULL || h->low_table == NULL || perm == NULL) {
    halton_free(h);
    free(perm);
    return -1;
  }
  rng_state g;
  rng_seed(&g, seed, STREAM_HALTON, (uint64_t) dim, 0);
  double weight = 1.0; /* base^-(pos + 1) */
  for (int pos = 0; pos < HALTON_POSITIONS; pos++) {
    weight /= (double) base;
    for (uint32_t digit = 0; digit < base; digit++) perm[digit] = digit;
    if (scramble) {
      for (uint32_t j = base - 1; j > 0; j--) { /* Fisher-Yates */
        uint32_t k = rng_below(&g, j + 1u);
        uint32_t swap = perm[j];
        perm[j] = perm[k];
        perm[k] = swap;
      }
    }
    for (uint32_t digit = 0; digit < base; digit++)
      h->digit_value[(size_t) pos * base + digit] = (double) perm[digit] * weight;
  }
  free(perm);
  h->zeros_from[HALTON_POSITIONS] = 0.0;
  for (int pos = HALTON_POSITIONS - 1; pos >= 0; pos--)
    h->zeros_from[pos] = h->zeros_from[pos + 1] + h->digit_value[(size_t) pos * base];
  for (uint64_t n = 0; n < h->low_size; n++) {
    double value = 0.0;
    uint64_t rest = n;
    for (int pos = 0; pos < h->low_digits; pos++) {
      value += h->digit_value[(size_t) pos * base + rest % base];
      rest /= base;
    }
    h->low_table[n] = value;
  }
  return 0;
}

/* phi of the digits of n at positions low_digits and above, given high = n / low_size. */
static double halton_high_part(const halton_dim *h, uint64_t high) {
  double value = 0.0;
  int pos = h->low_digits;
  for (; high > 0; pos++) {
    value += h->digit_value[(size_t) pos * h->base + high % h->base];
    high /= h->base;
  }
  return value + h->zeros_from[pos];
}

static void fill_halton(const halton_dim *h, uint64_t first_index, uint64_t count, double *buf) {
  uint64_t low = first_index % h->low_size, high = first_index / h->low_size;
  double high_value = halton_high_part(h, high);
  for (uint64_t k = 0; k < count; k++) {
    buf[k] = h->low_table[low] + high_value;
    if (++low == h->low_size) {
      low = 0;
      high_value = halton_high_part(h, ++high);
    }
  }
}

static uint32_t *first_primes(int count) {
  uint32_t *primes = malloc(sizeof(uint32_t) * (size_t) count);
  if (primes == NULL) return NULL;
  int found = 0;
  for (uint32_t candidate = 2; found < count; candidate++) {
    int is_prime = 1;
    for (int j = 0; j < found && primes[j] * primes[j] <= candidate; j++)
      if (candidate % primes[j] == 0) {
        is_prime = 0;
        break;
      }
    if (is_prime) primes[found++] = candidate;
  }
  return primes;
}

/* ------------------------------------------------------------------------ */
/* Sobol: points in Gray-code order (Antonov and Saleev), 52-bit direction
 * numbers. Dimension 1 is van der Corput; dimension d >= 2 uses the
 * (d-1)-th primitive polynomial over GF(2), ordered by degree and then by its
 * coefficients a. Initial direction numbers m_1..m_s (odd, m_k < 2^k): for
 * dimensions 2..32 those of Joe and Kuo (2008, file new-joe-kuo-6.21201);
 * beyond, drawn once from a fixed internal stream.
 *
 * Scrambled: Matousek's random linear scrambling (each direction number
 * multiplied by a random lower-triangular binary matrix with unit diagonal)
 * followed by a random digital shift, both per dimension from the seed. */

#define SOBOL_BITS 52
#define SOBOL_TABLE_DIMS 32
#define SOBOL_MAX_DEGREE 13

typedef struct {
  int degree;      /* s */
  uint32_t coeffs; /* a: the s - 1 inner coefficients, that of x^(s-1) highest */
} gf2_poly;

/* Rows for dimensions 2..32: degree s, coefficients a, then m_1..m_s. */
static const uint32_t sobol_initial_table[SOBOL_TABLE_DIMS - 1][9] = {
    {1, 0, 1},
    {2, 1, 1, 3},
    {3, 1, 1, 3, 1},
    {3, 2, 1, 1, 1},
    {4, 1, 1, 1, 3, 3},
    {4, 4, 1, 3, 5, 13},
    {5, 2, 1, 1, 5, 5, 17},
    {5, 4, 1, 1, 5, 5, 5},
    {5, 7, 1, 1, 7, 11, 19},
    {5, 11, 1, 1, 5, 1, 1},
    {5, 13, 1, 1, 1, 3, 11},
    {5, 14, 1, 3, 5, 5, 31},
    {6, 1, 1, 3, 3, 9, 7, 49},
    {6, 13, 1, 1, 1, 15, 21, 21},
    {6, 16, 1, 3, 1, 13, 27, 49},
    {6, 19, 1, 1, 1, 15, 7, 5},
    {6, 22, 1, 3, 1, 15, 13, 25},
    {6, 25, 1, 1, 5, 5, 19, 61},
    {7, 1, 1, 3, 7, 11, 23, 15, 103},
    {7, 4, 1, 3, 7, 13, 13, 15, 69},
    {7, 7, 1, 1, 3, 13, 7, 35, 63},
    {7, 8, 1, 3, 5, 9, 1, 25, 53},
    {7, 14, 1, 3, 1, 13, 9, 35, 107},
    {7, 19, 1, 3, 1, 5, 27, 61, 31},
    {7, 21, 1, 1, 5, 11, 19, 41, 61},
    {7, 28, 1, 3, 5, 3, 3, 13, 69},
    {7, 31, 1, 1, 7, 13, 1, 19, 1},
    {7, 32, 1, 3, 7, 5, 13, 19, 59},
    {7, 37, 1, 1, 3, 9, 25, 29, 41},
    {7, 41, 1, 3, 5, 13, 23, 1, 55},
    {7, 42, 1, 3, 7, 3, 13, 59, 17},
};

/* a * b modulo the polynomial p of degree s (bit k = coefficient of x^k). */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b, uint32_t p, int s) {
  uint32_t product = 0;
  while (b) {
    if (b & 1u) product ^= a;
    b >>= 1;
    a <<= 1;
    if ((a >> s) & 1u) a ^= p;
  }
  return product;
}

static uint32_t gf2_x_power(uint32_t e, uint32_t p, int s) {
  uint32_t result = 1, x_power = 2u; /* x, reduced modulo p when s = 1 */
  if ((x_power >> s) & 1u) x_power ^= p;
  while (e) {
    if (e & 1u) result = gf2_mulmod(result, x_power, p, s);
    x_power = gf2_mulmod(x_power, x_power, p, s);
    e >>= 1;
  }
  return result;
}

/* Primitive iff x has multiplicative order exactly 2^s - 1 modulo p. */
static int gf2_is_primitive(uint32_t p, int s) {
  uint32_t order = (1u << s) - 1u;
  if (gf2_x_power(order, p, s) != 1u) return 0;
  uint32_t rest = order;
  for (uint32_t q = 2; q <= rest; q++) {
    if (rest % q) continue;
    while (rest % q == 0) rest /= q;
    if (gf2_x_power(order / q, p, s) == 1u) return 0;
  }
  return 1;
}

/* The first `count` primitive polynomials (count <= ICLV_SOBOL_MAX_DIM - 1). */
static void primitive_polynomials(int count, gf2_poly *polys) {
  int found = 0;
  for (int s = 1; s <= SOBOL_MAX_DEGREE && found < count; s++) {
    uint32_t n_inner = s > 1 ? 1u << (s - 1) : 1u;
    for (uint32_t a = 0; a < n_inner && found < count; a++) {
      uint32_t p = (1u << s) | (a << 1) | 1u;
      if (gf2_is_primitive(p, s)) {
        polys[found].degree = s;
        polys[found].coeffs = a;
        found++;
      }
    }
  }
}

static int parity64(uint64_t x) {
  x ^= x >> 32;
  x ^= x >> 16;
  x ^= x >> 8;
  x ^= x >> 4;
  x ^= x >> 2;
  x ^= x >> 1;
  return (int) (x & 1u);
}

typedef struct {
  uint64_t direction[SOBOL_BITS]; /* direction[k]: v_{k+1} * 2^52 */
  uint64_t shift;
} sobol_dim;

/* dim is 0-based; poly is NULL for dimension 0. */
static void sobol_setup(sobol_dim *sd, int dim, const gf2_poly *poly, int scramble,
                        uint64_t seed) {
  uint64_t m[SOBOL_BITS + 1]; /* m[k], k = 1..SOBOL_BITS, odd, < 2^k */
  if (poly == NULL) {
    for (int k = 1; k <= SOBOL_BITS; k++) m[k] = 1;
  } else {
    int s = poly->degree;
    if (dim < SOBOL_TABLE_DIMS) {
      for (int k = 1; k <= s; k++) m[k] = sobol_initial_table[dim - 1][1 + k];
    } else {
      rng_state g;
      rng_seed(&g, SOBOL_TABLE_SEED, STREAM_SOBOL_TABLE, (uint64_t) dim, 0);
      for (int k = 1; k <= s; k++) m[k] = 2u * (uint64_t) rng_below(&g, 1u << (k - 1)) + 1u;
    }
    for (int k = s + 1; k <= SOBOL_BITS; k++) { /* Sobol's recurrence */
      uint64_t value = m[k - s] ^ (m[k - s] << s);
      for (int j = 1; j < s; j++)
        if ((poly->coeffs >> (s - 1 - j)) & 1u) value ^= m[k - j] << j;
      m[k] = value;
    }
  }
  for (int k = 1; k <= SOBOL_BITS; k++) sd->direction[k - 1] = m[k] << (SOBOL_BITS - k);
  sd->shift = 0;
  if (!scramble) return;

  rng_state g;
  rng_seed(&g, seed, STREAM_SOBOL, (uint64_t) dim, 0);
  const uint64_t all_bits = (1ULL << SOBOL_BITS) - 1u;
  uint64_t row_mask[SOBOL_BITS]; /* row i (i-th most significant digit): the digits above it */
  for (int i = 0; i < SOBOL_BITS; i++) {
    uint64_t above = i == 0 ? 0 : all_bits & ~((1ULL << (SOBOL_BITS - i)) - 1u);
    row_mask[i] = rng_next(&g) & above;
  }
  for (int k = 0; k < SOBOL_BITS; k++) {
    uint64_t v = sd->direction[k], scrambled = 0;
    for (int i = 0; i < SOBOL_BITS; i++) {
      int pos = SOBOL_BITS - 1 - i;
      uint64_t bit = ((v >> pos) & 1u) ^ (uint64_t) parity64(v & row_mask[i]);
      scrambled |= bit << pos;
    }
    sd->direction[k] = scrambled;
  }
  sd->shift = rng_next(&g) >> (64 - SOBOL_BITS);
}

static inline int trailing_zeros(uint64_t n) { /* n > 0 */
  int count = 0;
  while (!(n & 1u)) {
    n >>= 1;
    count++;
  }
  return count;
}

static void fill_sobol(const sobol_dim *sd, uint64_t first_index, uint64_t count, double *buf) {
  uint64_t gray = first_index ^ (first_index >> 1), x = 0;
  for (int k = 0; gray; k++, gray >>= 1)
    if (gray & 1u) x ^= sd->direction[k];
  uint64_t n = first_index;
  for (uint64_t k = 0; k < count; k++) {
    buf[k] = (double) (x ^ sd->shift) * 0x1p-52;
    n++;
    x ^= sd->direction[trailing_zeros(n)];
  }
}

/* ------------------------------------------------------------------------ */

/* Normals for individuals i0 .. i0 + n_chunk - 1 of dimension dim, one draw
 * at a time. The central formula of the quantile function runs over a fixed
 * CHUNK_MAX lanes (so that gcc -O2 vectorises it), and the ~15% of tail
 * values, listed without branches, are redone afterwards. */
#define CHUNK_MAX 64

static void write_chunk(const iclv_draws_spec *spec, int dim, int i0, int n_chunk, int n_gen,
                        const double *buf, double *out) {
  size_t n_indiv = (size_t) spec->n_indiv, n_draws = (size_t) spec->n_draws;
  double uniform[CHUNK_MAX], normal[CHUNK_MAX];
  int tail[CHUNK_MAX];
  for (int k = n_chunk; k < CHUNK_MAX; k++) uniform[k] = 0.5;
  for (int r = 0; r < n_gen; r++) {
    for (int k = 0; k < n_chunk; k++) uniform[k] = clamp_uniform(buf[(size_t) k * n_gen + r]);
    for (int k = 0; k < CHUNK_MAX; k++) normal[k] = qnorm_centre(uniform[k] - 0.5);
    int n_tail = 0;
    for (int k = 0; k < CHUNK_MAX; k++) {
      tail[n_tail] = k;
      n_tail += fabs(uniform[k] - 0.5) > 0.425;
    }
    for (int j = 0; j < n_tail; j++) normal[tail[j]] = qnorm_tail(uniform[tail[j]]);
    if (spec->layout == ICLV_DRAWS_LAYOUT_ENGINE) {
      size_t n_dim = (size_t) spec->n_dim;
      double *draw = out + ((size_t) i0 * n_dim + (size_t) dim) * n_draws + (size_t) r;
      for (int k = 0; k < n_chunk; k++) {
        draw[(size_t) k * n_dim * n_draws] = normal[k];
        if (spec->antithetic) draw[(size_t) k * n_dim * n_draws + (size_t) n_gen] = -normal[k];
      }
      continue;
    }
    double *draw = out + n_indiv * ((size_t) r + n_draws * (size_t) dim) + i0;
    memcpy(draw, normal, sizeof(double) * (size_t) n_chunk);
    if (spec->antithetic) {
      double *mirror = draw + n_indiv * (size_t) n_gen;
      for (int k = 0; k < n_chunk; k++) mirror[k] = -normal[k];
    }
  }
}

int iclv_draws_type_code(const char *name) {
  if (strcmp(name, "pseudo") == 0) return ICLV_DRAWS_PSEUDO;
  if (strcmp(name, "halton") == 0) return ICLV_DRAWS_HALTON;
  if (strcmp(name, "mlhs") == 0) return ICLV_DRAWS_MLHS;
  if (strcmp(name, "sobol") == 0) return ICLV_DRAWS_SOBOL;
  return -1;
}

const char *iclv_draws_message(int code) {
  switch (code) {
  case ICLV_DRAWS_OK: return "no error";
  case ICLV_DRAWS_BAD_COUNT: return "n_indiv, n_draws and n_dim must all be at least 1";
  case ICLV_DRAWS_BAD_TYPE: return "unknown draw type";
  case ICLV_DRAWS_ODD_ANTITHETIC: return "antithetic draws need an even number of draws";
  case ICLV_DRAWS_BAD_SCRAMBLE: return "scrambling is only available for Halton and Sobol draws";
  case ICLV_DRAWS_TOO_MANY_DIMS: return "Sobol draws support at most 1111 dimensions";
  case ICLV_DRAWS_TOO_MANY_POINTS: return "n_indiv * n_draws must be below 2^52";
  case ICLV_DRAWS_NO_MEMORY: return "out of memory while generating draws";
  default: return "unknown error";
  }
}

int iclv_draws_fill(const iclv_draws_spec *spec, double *out) {
  if (spec->n_indiv < 1 || spec->n_draws < 1 || spec->n_dim < 1) return ICLV_DRAWS_BAD_COUNT;
  int type = spec->type;
  if (type != ICLV_DRAWS_PSEUDO && type != ICLV_DRAWS_HALTON && type != ICLV_DRAWS_MLHS &&
      type != ICLV_DRAWS_SOBOL)
    return ICLV_DRAWS_BAD_TYPE;
  if (spec->antithetic && spec->n_draws % 2 != 0) return ICLV_DRAWS_ODD_ANTITHETIC;
  if (spec->scramble && type != ICLV_DRAWS_HALTON && type != ICLV_DRAWS_SOBOL)
    return ICLV_DRAWS_BAD_SCRAMBLE;
  if (type == ICLV_DRAWS_SOBOL && spec->n_dim > ICLV_SOBOL_MAX_DIM)
    return ICLV_DRAWS_TOO_MANY_DIMS;
  int n_indiv = spec->n_indiv, n_dim = spec->n_dim;
  int n_gen = spec->antithetic ? spec->n_draws / 2 : spec->n_draws;
  if (spec->first_indiv < 0) return ICLV_DRAWS_BAD_COUNT;
  const uint64_t first_indiv = (uint64_t) spec->first_indiv;
  if (((double) first_indiv + n_indiv) * (double) n_gen >= 0x1p52)
    return ICLV_DRAWS_TOO_MANY_POINTS;

  /* Chunks of up to CHUNK_MAX individuals (512 contiguous bytes per draw
   * written), with a buffer of at most about 1 MB per thread. Chunks are
   * independent (streams per individual; Halton and Sobol start anywhere in
   * the sequence), so threads share them out without changing the output. */
  int chunk = 131072 / n_gen;
  if (chunk > CHUNK_MAX) chunk = CHUNK_MAX;
  if (chunk < 1) chunk = 1;
  if (chunk > n_indiv) chunk = n_indiv;
  int n_chunks = (n_indiv + chunk - 1) / chunk;
  int n_threads = spec->n_threads < 1 ? 1 : spec->n_threads;
  if (n_threads > n_chunks) n_threads = n_chunks;
  size_t buf_size = (size_t) chunk * (size_t) n_gen;
  double *buf = malloc(sizeof(double) * buf_size * (size_t) n_threads);
  uint32_t *primes = type == ICLV_DRAWS_HALTON ? first_primes(n_dim) : NULL;
  gf2_poly *polys = NULL;
  if (type == ICLV_DRAWS_SOBOL && n_dim > 1) {
    polys = malloc(sizeof(gf2_poly) * (size_t) (n_dim - 1));
    if (polys != NULL) primitive_polynomials(n_dim - 1, polys);
  }
  if (buf == NULL || (type == ICLV_DRAWS_HALTON && primes == NULL) ||
      (type == ICLV_DRAWS_SOBOL && n_dim > 1 && polys == NULL)) {
    free(buf);
    free(primes);
    free(polys);
    return ICLV_DRAWS_NO_MEMORY;
  }

  int status = ICLV_DRAWS_OK;
  for (int dim = 0; dim < n_dim; dim++) {
    halton_dim halton = {0};
    sobol_dim sobol = {{0}, 0};
    if (type == ICLV_DRAWS_HALTON &&
        halton_setup(&halton, primes[dim], spec->scramble, spec->seed, dim) != 0) {
      status = ICLV_DRAWS_NO_MEMORY;
      break;
    }
    if (type == ICLV_DRAWS_SOBOL)
      sobol_setup(&sobol, dim, dim == 0 ? NULL : &polys[dim - 1], spec->scramble, spec->seed);

#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < n_chunks; c++) {
      double *thread_buf = buf + buf_size * (size_t) iclv_thread_num();
      int i0 = c * chunk;
      int n_chunk = n_indiv - i0 < chunk ? n_indiv - i0 : chunk;
      uint64_t n_points = (uint64_t) n_chunk * (uint64_t) n_gen;
      /* Sequence index of the chunk's first point: Sobol starts at 1,
       * Halton at 1 + ICLV_HALTON_SKIP (index 0 is the all-zero point); the
       * streams and indices are those of the individuals' places in the
       * whole sample. */
      const uint64_t g0 = first_indiv + (uint64_t) i0;
      uint64_t first = g0 * (uint64_t) n_gen + 1u;
      switch (type) {
      case ICLV_DRAWS_PSEUDO: fill_pseudo(spec->seed, dim, g0, n_chunk, n_gen, thread_buf); break;
      case ICLV_DRAWS_MLHS: fill_mlhs(spec->seed, dim, g0, n_chunk, n_gen, thread_buf); break;
      case ICLV_DRAWS_HALTON:
        fill_halton(&halton, first + ICLV_HALTON_SKIP, n_points, thread_buf);
        break;
      case ICLV_DRAWS_SOBOL: fill_sobol(&sobol, first, n_points, thread_buf); break;
      }
      write_chunk(spec, dim, i0, n_chunk, n_gen, thread_buf, out);
    }
    halton_free(&halton);
  }
  free(buf);
  free(primes);
  free(polys);
  return status;
}
