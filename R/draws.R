#' Simulation draws for the random components of a model
#'
#' Generates standard normal draws for simulated maximum likelihood: one
#' value per individual, draw and random dimension (a latent variable's
#' error, a random coefficient). The draws are deterministic given `seed`;
#' they are made in C with the package's own random number generator, so they
#' neither use nor change R's random number state.
#'
#' Uniform points in (0, 1) are mapped to normals by the inverse normal CDF
#' (Wichura's algorithm AS 241, accurate to about 1e-16).
#'
#' * `"halton"`: dimension `d` uses the `d`-th prime as base. Consecutive
#'   points of the sequence go to consecutive draws, individual by individual:
#'   individual 1 gets points 1 to R, individual 2 points R + 1 to 2R, and so
#'   on, after the first 10 points of the sequence are discarded (the first
#'   point used is the 11th, 0.8125 in base 2). With `scramble = TRUE` each
#'   base and digit position gets its own random permutation of all the
#'   digits (random digit scrambling), so every point is uniform on (0, 1)
#'   and base 2 is scrambled too.
#' * `"mlhs"`: modified Latin hypercube sampling (Hess, Train and Polak,
#'   2006). For each individual and dimension the R points are
#'   `(0:(R - 1) + u) / R` with one uniform shift `u`, in a random order, so
#'   that each interval `[i/R, (i + 1)/R)` holds exactly one point.
#' * `"sobol"`: the Sobol sequence in Gray-code order, with the same
#'   individual-by-individual layout as Halton, starting at the point after
#'   the all-zero one (0.5 in every dimension). Dimensions 2 to 32 use the
#'   direction numbers of Joe and Kuo (2008); dimensions 33 to 1111 use the
#'   next primitive polynomials with initial direction numbers from a fixed
#'   internal generator (valid, but not optimised for two-dimensional
#'   projections). With `scramble = TRUE` the sequence gets a random linear
#'   matrix scrambling and a random digital shift (Matousek, 1998).
#' * `"pseudo"`: independent pseudo-random uniforms (xoshiro256**).
#'
#' With `antithetic = TRUE`, only the first `n_draws / 2` draws of each
#' individual are generated as above (as a design of `n_draws / 2` draws);
#' draw `n_draws / 2 + k` is minus draw `k`.
#'
#' @param n_indiv Number of individuals N (a positive whole number).
#' @param n_draws Number of draws R per individual.
#' @param n_dim Number of random dimensions D.
#' @param type Kind of draws: `"halton"` (default), `"mlhs"`, `"sobol"` or
#'   `"pseudo"`.
#' @param seed A whole number. It fixes the pseudo-random draws, the MLHS
#'   shifts and orders, and the scrambling; unscrambled Halton and Sobol draws
#'   do not depend on it.
#' @param antithetic If `TRUE`, the second half of each individual's draws
#'   are the negatives of the first half; `n_draws` must then be even.
#' @param scramble If `TRUE`, scramble the Halton or Sobol sequence (only for
#'   those two types).
#' @return A double array of dimensions `c(n_indiv, n_draws, n_dim)` of
#'   standard normal draws (no dimnames), with attribute `"draw_type"` (the
#'   type).
#' @references
#' Hess, S., Train, K. E. and Polak, J. W. (2006). On the use of a Modified
#' Latin Hypercube Sampling (MLHS) method in the estimation of a Mixed Logit
#' model for vehicle choice. *Transportation Research Part B* 40, 147-163.
#'
#' Joe, S. and Kuo, F. Y. (2008). Constructing Sobol sequences with better
#' two-dimensional projections. *SIAM Journal on Scientific Computing* 30,
#' 2635-2654.
#'
#' Wichura, M. J. (1988). Algorithm AS 241: The percentage points of the
#' normal distribution. *Applied Statistics* 37, 477-484.
#' @export
#' @examples
#' draws <- iclv_draws(n_indiv = 100, n_draws = 50, n_dim = 2)
#' dim(draws)
#' attr(draws, "draw_type")
#' # The first point used in base 2 is the 11th of the Halton sequence:
#' pnorm(draws[1, 1:3, 1])
#' mlhs <- iclv_draws(100, 50, 2, type = "mlhs", seed = 42, antithetic = TRUE)
#' all.equal(mlhs[, 26:50, ], -mlhs[, 1:25, ])
iclv_draws <- function(n_indiv, n_draws, n_dim,
                       type = c("halton", "mlhs", "sobol", "pseudo"),
                       seed = 1L, antithetic = FALSE, scramble = FALSE) {
  args <- check_draw_args(n_indiv, n_draws, n_dim, type, seed, antithetic, scramble)
  draws <- .Call(C_make_draws, args$n_indiv, args$n_draws, args$n_dim, args$type, args$seed,
                 args$antithetic, args$scramble)
  attr(draws, "draw_type") <- args$type
  draws
}

# The arguments of iclv_draws() checked, as the C generator takes them.
check_draw_args <- function(n_indiv, n_draws, n_dim, type, seed, antithetic, scramble) {
  n_indiv <- check_whole(n_indiv, "n_indiv")
  n_draws <- check_whole(n_draws, "n_draws")
  n_dim <- check_whole(n_dim, "n_dim")
  type <- check_draw_type(type)
  seed <- check_draw_seed(seed)
  antithetic <- check_draw_flag(antithetic, "antithetic")
  scramble <- check_draw_flag(scramble, "scramble")
  if (antithetic && n_draws %% 2L != 0L) {
    stop("antithetic = TRUE needs an even n_draws (the second half of each individual's ",
         "draws mirrors the first half), got n_draws = ", n_draws, call. = FALSE)
  }
  if (scramble && !type %in% c("halton", "sobol")) {
    stop("scramble = TRUE is only available for type \"halton\" or \"sobol\", not \"",
         type, "\"", call. = FALSE)
  }
  if (type == "sobol" && n_dim > sobol_max_dim) {
    stop("type \"sobol\" supports at most ", sobol_max_dim, " dimensions, got n_dim = ",
         n_dim, "; use \"halton\", \"mlhs\" or \"pseudo\"", call. = FALSE)
  }
  n_values <- as.double(n_indiv) * n_draws * n_dim
  if (n_values > 2^48) {
    stop("n_indiv * n_draws * n_dim = ", format(n_values, big.mark = ","),
         " draws is too many", call. = FALSE)
  }
  list(n_indiv = n_indiv, n_draws = n_draws, n_dim = n_dim, type = type, seed = seed,
       antithetic = antithetic, scramble = scramble)
}

draw_types <- c("halton", "mlhs", "sobol", "pseudo")

# Must equal ICLV_SOBOL_MAX_DIM in src/draws.h.
sobol_max_dim <- 1111L

check_draw_seed <- function(seed) {
  ok <- is.numeric(seed) && length(seed) == 1L && !is.na(seed) && is.finite(seed) &&
    seed == round(seed) && abs(seed) <= .Machine$integer.max
  if (!ok) {
    stop("seed must be a single whole number (an integer), got ", describe_draw_arg(seed),
         call. = FALSE)
  }
  as.integer(seed)
}

check_draw_flag <- function(x, name) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop(name, " must be TRUE or FALSE, got ", describe_draw_arg(x), call. = FALSE)
  }
  x
}

check_draw_type <- function(type) {
  if (identical(type, draw_types)) return(draw_types[1L])
  if (!is.character(type) || length(type) != 1L || is.na(type) || !type %in% draw_types) {
    stop("type must be one of ", paste0("\"", draw_types, "\"", collapse = ", "),
         ", got ", describe_draw_arg(type), call. = FALSE)
  }
  type
}

# A short rendering of a user's argument for an error message.
describe_draw_arg <- function(x) {
  if (is.null(x)) return("NULL")
  if (length(x) != 1L) {
    return(paste0("a ", class(x)[1L], " of length ", length(x)))
  }
  if (is.character(x) && !is.na(x)) return(paste0("\"", x, "\""))
  format(x)
}

# Validates a user-supplied array of draws (N x R x D) against the data (N
# individuals) and the model (D random dimensions); returns it as a plain
# double array without dimnames.
check_user_draws <- function(draws, n_indiv, n_dim) {
  if (!is.numeric(draws)) {
    stop("draws must be a numeric array (individuals x draws x dimensions), got an object ",
         "of class \"", class(draws)[1L], "\"", call. = FALSE)
  }
  dims <- dim(draws)
  if (length(dims) != 3L) {
    stop("draws must be a 3-dimensional array (individuals x draws x dimensions), got ",
         if (is.null(dims)) "a vector without dimensions" else
           paste0("an array with ", length(dims), " dimensions (", paste(dims, collapse = " x "),
                  ")"),
         call. = FALSE)
  }
  if (dims[1L] != n_indiv) {
    stop("draws has ", dims[1L], " rows in its first dimension (individuals) but the data have ",
         n_indiv, " individuals", call. = FALSE)
  }
  if (dims[2L] < 1L) {
    stop("draws has no draws: its second dimension (draws) is 0", call. = FALSE)
  }
  if (dims[3L] != n_dim) {
    named <- attr(n_dim, "dims")
    stop("draws has ", dims[3L], " entries in its third dimension (random dimensions) but the ",
         "model needs ", as.vector(n_dim),
         if (length(named)) paste0(": ", paste(named, collapse = ", "),
                                   " (latent variables, then random coefficients)"),
         call. = FALSE)
  }
  bad <- which(!is.finite(draws))
  if (length(bad) > 0L) {
    where <- arrayInd(bad[1L], dims)
    stop("draws has ", length(bad), " non-finite value", if (length(bad) > 1L) "s",
         " (NA, NaN or Inf), the first at [", paste(where, collapse = ", "),
         "] (individual, draw, dimension)", call. = FALSE)
  }
  storage.mode(draws) <- "double"
  dimnames(draws) <- NULL
  draws
}

# Draws: a count (made with draw_type and seed, by the engine itself) or the
# user's own array. Returns list(array = the checked array, type = "user")
# or list(recipe = list(n_draws, draw_type, seed), type = draw_type).
resolve_draws <- function(draws, draw_type, seed, n_indiv, n_dim) {
  if (is.array(draws) && length(dim(draws)) == 3L)
    return(list(array = check_user_draws(draws, n_indiv, n_dim), type = "user"))
  if (!is.numeric(draws) || length(draws) != 1L || is.na(draws) || draws < 1 ||
      draws != round(draws))
    stop("`draws` must be a positive whole number of draws or an array of ",
         "individuals x draws x latent variables, got ",
         if (is.numeric(draws) && length(draws) == 1L) format(draws) else class(draws)[1L],
         call. = FALSE)
  match_choice(draw_type, draw_types_all, "draw_type")
  list(recipe = list(n_draws = as.integer(draws), draw_type = draw_type, seed = seed),
       type = draw_type)
}

draw_types_all <- c("halton", "scrambled_halton", "mlhs", "sobol", "scrambled_sobol", "pseudo")
