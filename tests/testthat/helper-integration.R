# Small models shared by the quadrature and adaptive integration tests.

# A one-latent-variable ICLV model, its data and (perturbed) true parameters.
quadrature_case <- function(n_indicators = 5, n_indiv = 40, n_tasks = 2, loading = 1,
                            seed = 1) {
  items <- paste0("q", seq_len(n_indicators))
  model <- iclv_model(paste("att =~", paste(items, collapse = " + ")),
    utility = list(A = ~ asc_A + b_price * price_A + b_att * att,
                   B = ~ asc_B + b_price * price_B,
                   C = ~ 0),
    choice = "choice", id = "id")
  theta <- iclv_parameters(model)$start
  names(theta) <- model$params$name
  theta[paste0("att=~", items)] <- loading
  theta[c("asc_A", "asc_B", "b_price", "b_att")] <- c(0.3, -0.2, -0.8, 0.7)
  data <- iclv_simulate(model, theta = theta[model$params$free], n_indiv = n_indiv,
                        n_tasks = n_tasks, seed = seed)
  theta_full <- attr(data, "theta")
  set.seed(seed)
  move <- model$params$free & model$params$type %in% c("loading", "choice")
  theta_full[move] <- theta_full[move] + stats::runif(sum(move), -0.1, 0.1)
  list(model = model, data = data, prepared = iclv:::prepare_data(model, data),
       theta = theta_full)
}

# A model with `n_latent` correlated latent variables (each explains the
# next), each measured by `n_items` ordered items; `by_hand` is its
# structure written by hand (helper-reference.R).
multi_case <- function(n_latent, n_indiv = 12, seed = 2, n_items = 3) {
  lv <- paste0("f", seq_len(n_latent))
  lines <- vapply(seq_len(n_latent), function(l) {
    paste0(lv[l], " =~ ", paste0("q", l, letters[seq_len(n_items)], collapse = " + "))
  }, "")
  if (n_latent > 1)
    lines <- c(lines, paste0(lv[-1], " ~ ", lv[-n_latent]))
  model <- iclv_model(paste(lines, collapse = "\n"),
    utility = list(A = stats::as.formula(paste("~ asc_A + b_price * price_A + b1 *", lv[1])),
                   B = stats::as.formula(paste("~ b_price * price_B",
                                               if (n_latent > 1) paste("+ b2 *", lv[n_latent])))),
    choice = "choice", id = "id")
  data <- iclv_simulate(model, n_indiv = n_indiv, n_tasks = 2, seed = seed)
  items <- lapply(seq_len(n_latent), function(l) paste0("q", l, letters[seq_len(n_items)]))
  by_hand <- list(
    id = "id", choice = "choice",
    latent = stats::setNames(lapply(seq_len(n_latent), function(l)
      lv_by_hand(lv[l], paths = if (l > 1) lv[l - 1L] else character(0))), lv),
    indicators = stats::setNames(unlist(lapply(seq_len(n_latent), function(l)
      lapply(items[[l]], item_by_hand, on = lv[l])), recursive = FALSE), unlist(items)),
    utility = list(
      A = function(x, lv, th) th[["asc_A"]] + th[["b_price"]] * x$price_A + th[["b1"]] * lv[[1L]],
      B = function(x, lv, th) th[["b_price"]] * x$price_B +
        if (n_latent > 1) th[["b2"]] * lv[[n_latent]] else 0))
  list(model = model, data = data, prepared = iclv:::prepare_data(model, data),
       theta = attr(data, "theta"), by_hand = by_hand)
}

engine_with_rule <- function(case, rule) {
  n_indiv <- nrow(case$prepared$ind_cat)
  iclv:::engine_build(case$model, case$prepared, iclv:::quadrature_draws(rule, n_indiv),
                      rule$weights, threads = 1)
}

# An engine with adaptive points centred at case$theta (R/integration.R).
adaptive_engine <- function(case, method, nodes = NULL, draws = 100, threads = 1) {
  settings <- iclv:::resolve_integration(method, length(case$model$latent), nodes, TRUE,
                                        case$model)
  iclv:::integration_engine(case$model, case$prepared, settings, case$theta, threads = threads,
                     draws = draws)
}
