# iclv_model(): syntax -> parameter table, plan and threshold sets.

two_lv_syntax <- "
  # attitudes towards the environment and towards cars
  env =~ q1 + q2 + q3
  car =~ q4 + q5 + q6; car ~ env + age + female   # two statements on one line
  env ~ age
"

rows_named <- function(model, names) match(names, model$params$name)
param_names_at <- function(model, index0) model$params$name[index0 + 1L]

test_that("a typical two-latent model has the expected parameter table", {
  model <- iclv_model(
    two_lv_syntax,
    utility = list(A = ~ asc_A + b_price * price_A + lambda * car,
                   B = ~ asc_B + b_price * price_B,
                   none = ~ 0),
    choice = "choice")
  params <- iclv_parameters(model)
  expect_s3_class(model, "iclv_model")
  expect_named(params, c("name", "block", "free", "start", "label", "type"))
  expect_equal(model$latent, c("env", "car"))
  expect_equal(model$indicators, paste0("q", 1:6))
  expect_equal(model$covariates, c("age", "female"))
  expect_equal(model$alternatives, c("A", "B", "none"))
  expect_equal(params$name[1:6],
               c("env~age", "env~~env", "car~env", "car~age", "car~female", "car~~car"))
  expect_equal(params$type[1:6], c("covariate_path", "lv_scale", "lv_path",
                                   "covariate_path", "covariate_path", "lv_scale"))
  expect_equal(params$name[7:9], c("env=~q1", "q1~1", "q1~~q1"))
  expect_equal(as.vector(table(factor(params$block, unique(params$block)))),
               c(6, 18, 24, 4))
  expect_equal(unique(params$block), c("structural", "measurement", "thresholds", "choice"))
  expect_equal(params$name[params$block == "choice"], c("asc_A", "b_price", "lambda", "asc_B"))
  # normalisation: latent and ordered-indicator scales and intercepts fixed
  fixed <- params$name[!params$free]
  expect_setequal(fixed, c("env~~env", "car~~car", paste0("q", 1:6, "~1"), paste0("q", 1:6, "~~q", 1:6)))
  expect_equal(params$start[params$name == "env=~q1"], 1)
  expect_equal(params$start[params$name == "car~env"], 0)
  expect_equal(sum(params$free), 6 * 4 + 6 + 4 + 4)
  expect_true(all(params$label == ""))
  expect_equal(model$choice, "choice")
  expect_equal(model$id, "id")
  expect_null(model$availability)
})

test_that("the plan of a tiny model points at the right rows (0-based)", {
  model <- iclv_model(
    "A =~ q1 + q2
     B =~ q2 + 1*q3
     B ~ A + x
     B ~~ B",
    utility = list(a = ~ c_a + b_x * z + g * B, b = ~ b_x * w),
    choice = "y", categories = 3)
  plan <- model$plan
  expect_equal(model$params$name, c(
    "A~~A", "B~A", "B~x", "B~~B",
    "A=~q1", "q1~1", "q1~~q1", "A=~q2", "B=~q2", "q2~1", "q2~~q2", "B=~q3", "q3~1", "q3~~q3",
    "q1|t1", "q1|t2", "q2|t1", "q2|t2", "q3|t1", "q3|t2",
    "c_a", "b_x", "g"))
  expect_identical(plan$lv_alpha, c(-1L, -1L))
  expect_identical(plan$lv_sigma, c(0L, 3L))
  expect_identical(plan$lv_cov_ptr, c(0L, 0L, 1L))
  expect_identical(plan$lv_cov_col, 0L)
  expect_identical(plan$lv_cov_par, 2L)
  expect_identical(plan$lv_path_ptr, c(0L, 0L, 1L))
  expect_identical(plan$lv_path_from, 0L)
  expect_identical(plan$lv_path_par, 1L)
  expect_identical(plan$ind_family, c(0L, 0L, 0L))
  expect_identical(plan$ind_ncat, c(3L, 3L, 3L))
  expect_identical(plan$ind_intercept, c(5L, 9L, 12L))
  expect_identical(plan$ind_scale, c(6L, 10L, 13L))
  expect_identical(plan$ind_load_ptr, c(0L, 1L, 3L, 4L))
  expect_identical(plan$ind_load_lv, c(0L, 0L, 1L, 1L))
  expect_identical(plan$ind_load_par, c(4L, 7L, 8L, 11L))
  expect_identical(plan$ind_thr_ptr, c(0L, 2L, 4L, 6L))
  expect_identical(plan$ind_thr_par, 14:19)
  expect_identical(plan$ind_thr_sign, rep(1, 6))
  expect_identical(plan$util_alt, c(0L, 0L, 0L, 1L))
  expect_identical(plan$util_par, c(20L, 21L, 22L, 21L))
  expect_identical(plan$util_lv, c(-1L, -1L, 1L, -1L))
  # the fixed loading and the freed latent scale
  expect_equal(model$params$free[c(4, 12)], c(TRUE, FALSE))
  expect_equal(model$params$start[12], 1)
  expect_equal(vapply(model$threshold_sets, function(s) s$par, integer(2)),
               matrix(15:20, 2))
})

test_that("latent intercepts and free indicator intercepts add or free rows", {
  model <- iclv_model("A =~ q1 + q2; A ~ 1; q1 ~ 0*1",
                      indicators = c(.default = "ordered_probit", q1 = "continuous"))
  params <- model$params
  expect_equal(params$name[1:2], c("A~1", "A~~A"))
  expect_equal(params$type[1], "lv_intercept")
  expect_true(params$free[1])
  expect_equal(model$plan$lv_alpha, 0L)
  expect_false(params$free[params$name == "q1~1"])
  expect_true(params$free[params$name == "q1~~q1"])
})

test_that("the latent variables are sorted topologically, keeping syntax order", {
  model <- iclv_model("
    B =~ q3 + q4
    B ~ A + income
    A =~ q1 + q2
    C =~ q5 + q6")
  expect_equal(model$latent, c("A", "B", "C"))
  expect_equal(model$params$name[1:5], c("A~~A", "B~A", "B~income", "B~~B", "C~~C"))
  expect_equal(model$indicators, c("q3", "q4", "q1", "q2", "q5", "q6"))
  expect_identical(model$plan$ind_load_lv, c(1L, 1L, 0L, 0L, 2L, 2L))
  expect_identical(model$plan$lv_path_from, 0L)
  expect_identical(model$plan$lv_path_ptr, c(0L, 0L, 1L, 1L))
})

test_that("a cycle among latent variables is refused, naming it", {
  expect_error(
    iclv_model("A =~ q1 + q2; B =~ q3 + q4; C =~ q5 + q6; A ~ B; B ~ C; C ~ A"),
    "latent variables form a cycle: A -> C -> B -> A", fixed = TRUE)
  expect_error(iclv_model("A =~ q1 + q2; A ~ A"), "cycle: A -> A", fixed = TRUE)
})

test_that("labels share one parameter and numbers fix parameters", {
  model <- iclv_model("
    A =~ q1 + l*q2
    B =~ q3 + l*q4 + 0.5*q5
    B ~ -1*A + 0.25*age")
  params <- model$params
  expect_equal(sum(params$name == "l"), 1L)
  expect_false(any(params$name %in% c("A=~q2", "B=~q4")))
  row_l <- match("l", params$name)
  expect_equal(params$label[row_l], "l")
  expect_equal(params$type[row_l], "loading")
  expect_equal(model$plan$ind_load_par[c(2, 4)], c(row_l, row_l) - 1L)
  fixed <- params[!params$free & params$type %in% c("loading", "lv_path", "covariate_path"), ]
  expect_equal(fixed$name, c("B~A", "B~age", "B=~q5"))
  expect_equal(fixed$start, c(-1, 0.25, 0.5))
  expect_error(iclv_model("A =~ l*q1 + q2; q1 | l*t1 + t2"),
               "label 'l' is shared by parameters of different kinds \\(loading and threshold\\)")
})

test_that("`fixed` fixes parameters by name and suggests close names", {
  model <- iclv_model("A =~ q1 + q2", utility = list(x = ~ b * p, y = ~ 0), choice = "y",
                      fixed = c("A=~q1" = 0.8, b = -1))
  params <- model$params
  expect_equal(params$free[rows_named(model, c("A=~q1", "b"))], c(FALSE, FALSE))
  expect_equal(params$start[rows_named(model, c("A=~q1", "b"))], c(0.8, -1))
  expect_error(iclv_model("A =~ q1 + q2", fixed = c("A=~q7" = 1)),
               "`fixed` names 'A=~q7'.*close names: 'A=~q1'")
  expect_error(iclv_model("A =~ q1 + q2", fixed = c("q1~~q1" = 0)),
               "scale 'q1~~q1' is fixed at 0")
})

test_that("symmetric thresholds: upper half are parameters, lower half mirror them", {
  five <- iclv_model("A =~ q1 + q2", thresholds = "symmetric", categories = 5)
  thr <- five$params[five$params$block == "thresholds", ]
  expect_equal(thr$name, c("q1|t3", "q1|t4", "q2|t3", "q2|t4"))
  expect_true(all(thr$free))
  expect_true(all(thr$start > 0))
  expect_equal(param_names_at(five, five$plan$ind_thr_par[1:4]),
               c("q1|t4", "q1|t3", "q1|t3", "q1|t4"))
  expect_equal(five$plan$ind_thr_sign[1:4], c(-1, -1, 1, 1))
  expect_equal(five$threshold_sets[[1]]$par, rows_named(five, c("q1|t3", "q1|t4")))
  expect_equal(five$threshold_sets[[1]]$scheme, "symmetric")

  four <- iclv_model("A =~ q1 + q2", thresholds = c(.default = "free", q1 = "symmetric"),
                     categories = 4)
  expect_equal(four$params$name[four$params$block == "thresholds"],
               c("q1|t3", "q2|t1", "q2|t2", "q2|t3"))
  expect_equal(param_names_at(four, four$plan$ind_thr_par[1:3]), rep("q1|t3", 3))
  expect_equal(four$plan$ind_thr_sign, c(-1, 0, 1, 1, 1, 1))
  expect_equal(vapply(four$threshold_sets, `[[`, "", "scheme"), c("symmetric", "free"))

  binary <- iclv_model("A =~ q1 + q2", thresholds = "symmetric", categories = 2)
  expect_equal(binary$params$name[binary$params$block == "thresholds"], c("q1|t1", "q2|t1"))
  expect_false(any(binary$params$free[binary$params$block == "thresholds"]))
  expect_equal(binary$params$start[binary$params$block == "thresholds"], c(0, 0))
})

test_that("threshold labels give one shared set, free or symmetric", {
  syntax <- "A =~ q1 + q2 + q3
             q1 | a*t1 + b*t2 + c*t3 + d*t4
             q2 | a*t1 + b*t2 + c*t3 + d*t4"
  free <- iclv_model(syntax)
  expect_equal(free$params$name[free$params$block == "thresholds"],
               c("a", "b", "c", "d", paste0("q3|t", 1:4)))
  expect_length(free$threshold_sets, 2L)
  expect_equal(free$threshold_sets[[1]]$indicators, c("q1", "q2"))
  expect_equal(free$threshold_sets[[1]]$par, rows_named(free, c("a", "b", "c", "d")))
  expect_identical(free$plan$ind_thr_par[1:4], free$plan$ind_thr_par[5:8])

  symmetric <- iclv_model(syntax, thresholds = "symmetric")
  expect_equal(symmetric$params$name[symmetric$params$block == "thresholds"],
               c("c", "d", "q3|t3", "q3|t4"))
  expect_equal(symmetric$threshold_sets[[1]],
               list(par = rows_named(symmetric, c("c", "d")), scheme = "symmetric",
                    indicators = c("q1", "q2")))
  expect_equal(param_names_at(symmetric, symmetric$plan$ind_thr_par[5:8]), c("d", "c", "c", "d"))
  expect_error(iclv_model("A =~ q1 + q2; q1 | a*t1 + b*t2 + c*t3 + d*t4; q2 | a*t1 + b*t2 + x*t3 + d*t4",
                          thresholds = "symmetric"),
               "symmetric thresholds can only be shared as a whole set")
  expect_error(iclv_model("A =~ q1 + q2; q1 | a*t1 + b*t2 + c*t3 + d*t4; q2 | e*t1 + f*t2 + a*t3 + b*t4",
                          thresholds = c(q1 = "symmetric")),
               "labels the mirrored threshold q1\\|t1 'a', which also names a parameter")
  expect_error(iclv_model("A =~ q1 + q2; q1 | -1*t1 + t2 + t3 + t4", thresholds = "symmetric"),
               "line 1 of the model syntax: .*fixes q1\\|t1, but 'q1' has symmetric thresholds")
})

test_that("fixed thresholds are fixed and thresholds set the categories", {
  model <- iclv_model("A =~ q1 + q2; q1 | 0*t1 + t2", categories = 4)
  expect_equal(unname(model$categories), c(3L, 4L))
  expect_equal(model$params$free[rows_named(model, c("q1|t1", "q1|t2"))], c(FALSE, TRUE))
  expect_equal(model$params$start[rows_named(model, "q1|t1")], 0)
  expect_error(iclv_model("A =~ q1 + q2; q1 | t1 + t2", categories = c(q1 = 4)),
               "indicator 'q1' has 2 thresholds in the syntax \\(line 1\\), so 3 categories")
  expect_error(iclv_model("A =~ q1 + q2; q1 | t1 + t3"),
               "thresholds must be written t1 \\+ t2")
})

test_that("indicator families and categories take a value or a named vector", {
  model <- iclv_model("A =~ q1 + q2 + q3",
                      indicators = c(.default = "ordered_logit", q2 = "continuous"),
                      categories = c(.default = 3, q3 = 7))
  expect_equal(model$family, c(q1 = "ordered_logit", q2 = "continuous", q3 = "ordered_logit"))
  expect_equal(model$categories, c(q1 = 3L, q2 = NA, q3 = 7L))
  expect_identical(model$plan$ind_family, c(1L, 2L, 1L))
  expect_identical(model$plan$ind_ncat, c(3L, 0L, 7L))
  expect_identical(model$plan$ind_thr_ptr, c(0L, 2L, 2L, 8L))
  expect_true(all(model$params$free[rows_named(model, c("q2~1", "q2~~q2"))]))
  expect_equal(model$params$start[rows_named(model, c("q2~1", "q2~~q2"))], c(0, 1))

  all_logit <- iclv_model("A =~ q1 + q2", indicators = "ordered_logit")
  expect_equal(unname(all_logit$family), c("ordered_logit", "ordered_logit"))

  expect_error(iclv_model("A =~ q1 + q2", indicators = "probit"),
               "unknown indicator family 'probit'")
  expect_error(iclv_model("A =~ q1 + q2", indicators = c(q9 = "continuous")),
               "`indicators` names 'q9', which is not an indicator")
  expect_error(iclv_model("A =~ q1 + q2", categories = c(.default = 5, q2 = 1)),
               "ordered indicator 'q2' needs a whole number of categories of at least 2")
  expect_error(iclv_model("A =~ q1 + q2", thresholds = "monotone"),
               "unknown threshold scheme 'monotone'")
})

test_that("utility terms: coefficients, data expressions and latent variables", {
  model <- iclv_model(
    "LV =~ q1 + q2",
    utility = list(
      A = ~ asc_A + b_price * price_A + b_brand * (brand_1 == "Artemis") * income + lambda * LV,
      B = ~ b_price * price_B + b_inc * LV * log(income),
      none = ~ 0),
    choice = "choice", availability = list(A = "av_A", none = "av_none"))
  terms <- model$utility_terms
  expect_equal(terms$alt, c(1L, 1L, 1L, 1L, 2L, 2L))
  expect_equal(terms$coef, c("asc_A", "b_price", "b_brand", "lambda", "b_price", "b_inc"))
  expect_equal(terms$lv, c(NA, NA, NA, "LV", NA, "LV"))
  expect_null(terms$value[[1]])
  expect_identical(terms$value[[2]], quote(price_A))
  expect_identical(terms$value[[3]], quote((brand_1 == "Artemis") * income))
  expect_null(terms$value[[4]])
  expect_identical(terms$value[[6]], quote(log(income)))
  expect_equal(model$params$name[model$params$block == "choice"],
               c("asc_A", "b_price", "b_brand", "lambda", "b_inc"))
  expect_identical(model$plan$util_lv, c(-1L, -1L, -1L, 0L, -1L, 0L))
  expect_identical(model$plan$util_par[c(2, 5)], rep(model$plan$util_par[[2]], 2))
  expect_equal(model$availability, list(A = "av_A", none = "av_none"))
  data <- data.frame(brand_1 = c("Artemis", "Zeus"), income = c(2, 3))
  expect_equal(eval(terms$value[[3]], data), c(2, 0))
})

test_that("utility errors name the alternative and the term", {
  syntax <- "A =~ q1 + q2; B =~ q3 + q4"
  expect_error(iclv_model(syntax, utility = list(x = ~ b * A * B), choice = "y"),
               "alternative 'x', term 'b \\* A \\* B'.*at most one latent variable")
  expect_error(iclv_model(syntax, utility = list(x = ~ 2 * price), choice = "y"),
               "alternative 'x', term '2 \\* price'.*first factor must be the coefficient")
  expect_error(iclv_model(syntax, utility = list(x = ~ A * price), choice = "y"),
               "utility coefficient 'A' .*name of a latent variable")
  expect_error(iclv_model("A =~ q1 + l*q2", utility = list(x = ~ l * price), choice = "y"),
               "utility coefficient 'l' .*parameter of the latent syntax")
  expect_error(iclv_model(syntax, utility = list(x = ~ b * p), choice = "y",
                          availability = list(z = "av")),
               "`availability` names 'z', which is not an alternative")
  expect_error(iclv_model(syntax, utility = list(x = ~ b * p)), "`choice` must be the name")
  expect_error(iclv_model(syntax, utility = list(x = ~ b * p - c * q), choice = "y"),
               "term 'b \\* p - c \\* q': subtraction is not supported")
  expect_error(iclv_model(syntax, utility = list(~ b * p), choice = "y"), "named list")
  expect_equal(nrow(iclv_model(syntax, utility = list(x = ~ -1, y = ~ b), choice = "y")$utility_terms), 1L)
})

test_that("a latent-only model has no choice part", {
  model <- iclv_model("A =~ q1 + q2")
  expect_equal(model$alternatives, character(0))
  expect_equal(nrow(model$utility_terms), 0L)
  expect_null(model$choice)
  expect_identical(model$plan$util_par, integer(0))
  expect_output(print(model), "no choice part")
  expect_output(print(model), "parameters: 10 free, 5 fixed")
})

test_that("a line ending in '+' continues on the next line", {
  model <- iclv_model("A =~ q1 + q2 +   # first indicators
                            q3
                       A ~ age")
  expect_equal(model$indicators, c("q1", "q2", "q3"))
  expect_error(iclv_model("A =~ q1 +\n q2\n\nA ~ x + y\nA =~ "),
               "line 5 of the model syntax: 'A =~' has no indicators")
})

test_that("syntax errors name the line and the statement", {
  expect_error(iclv_model("A =~ q1 + q2\n\nA =~ "),
               "line 3 of the model syntax: 'A =~' has no indicators after '=~'", fixed = TRUE)
  expect_error(iclv_model("A =~ q1 + q2\nA := 2 * b"),
               "line 2 of the model syntax: 'A := 2 \\* b' uses the operator ':='")
  expect_error(iclv_model("A =~ q1 + q2\nA q3"), "line 2 .*has no operator")
  expect_error(iclv_model("A =~ q1 + + q2"), "line 1 .*has an empty term")
  expect_error(iclv_model("A =~ q1 + q2\n# comment\nA =~ q1"),
               "line 3 .*repeats 'A=~q1', already given on line 1")
  expect_error(iclv_model("A =~ q1 + q2; q1 ~~ q2"), "covariances are not supported")
  expect_error(iclv_model("A =~ q1 + q2; q1 ~ age"), "regresses indicator 'q1' on 'age'")
  expect_error(iclv_model("A =~ q1 + q2; B =~ A + q3"), "higher-order factors are not supported")
  expect_error(iclv_model("A =~ q1 + x$y"), "'x\\$y' .* not a variable name")
})

test_that("clearly unidentified models are refused with what to fix", {
  expect_error(iclv_model("A =~ q1 + q2; B ~ A"),
               "line 1 .*explains 'B', which has no indicators")
  expect_error(iclv_model("A =~ q1 + q2; q1 ~ 1"),
               "fix q1's intercept (remove 'q1 ~ 1') or fix one of its thresholds", fixed = TRUE)
  expect_error(iclv_model("A =~ q1 + q2; A ~~ A"),
               "fix one loading, e.g. 'A =~ 1*q1'", fixed = TRUE)
  expect_error(iclv_model("A =~ q1 + q2; q2 ~~ q2"),
               "the scale of indicator 'q2' is not identified")
  expect_error(iclv_model("A =~ q1 + q2; A ~ 1"),
               "the intercept of latent variable 'A' ('A ~ 1') is not identified", fixed = TRUE)
  expect_error(iclv_model("A =~ 0*q1 + q2; A ~~ A"), "fix one loading")
  expect_error(iclv_model("A =~ q1 + q2; q1 ~~ q1", thresholds = "symmetric", categories = 2),
               "the scale of indicator 'q1' is not identified")
  # the same models with what the messages ask for are accepted
  expect_s3_class(iclv_model("A =~ q1 + q2; q1 ~ 1; q1 | 0*t1 + t2 + t3 + t4"), "iclv_model")
  expect_s3_class(iclv_model("A =~ 1*q1 + q2; A ~~ A"), "iclv_model")
  expect_s3_class(iclv_model("A =~ q1 + 1*q2; q2 ~~ q2"), "iclv_model")
  expect_s3_class(iclv_model("A =~ q1 + q2; q1 ~ 1", thresholds = "symmetric"), "iclv_model")
  expect_s3_class(iclv_model("A =~ q1 + q2; A ~~ A", fixed = c("A=~q2" = 1)), "iclv_model")
})

test_that("print shows latent variables, indicators by family and counts", {
  model <- iclv_model("A =~ q1 + q2 + q3",
                      indicators = c(.default = "ordered_probit", q3 = "continuous"),
                      utility = list(x = ~ b * p + g * A, y = ~ 0), choice = "ch")
  out <- capture.output(print(model))
  expect_match(out, "latent variables: A", all = FALSE)
  expect_match(out, "ordered_probit indicators: q1, q2", all = FALSE)
  expect_match(out, "continuous indicators: q3", all = FALSE)
  expect_match(out, "alternatives: x, y", all = FALSE)
  expect_match(out, sprintf("parameters: %d free, %d fixed", sum(model$params$free),
                            sum(!model$params$free)), all = FALSE)
})

test_that("plan arrays are integer vectors (signs double), also when empty", {
  model <- iclv_model("A =~ q1 + q2", indicators = "continuous")
  plan <- model$plan
  expect_named(plan, c("lv_alpha", "lv_sigma", "lv_cov_ptr", "lv_cov_col", "lv_cov_par",
                       "lv_path_ptr", "lv_path_from", "lv_path_par", "lv_kind", "lv_chol_ptr",
                       "lv_chol_from", "lv_chol_par", "ind_family", "ind_ncat",
                       "ind_intercept", "ind_scale", "ind_load_ptr", "ind_load_lv", "ind_load_par",
                       "ind_thr_ptr", "ind_thr_par", "ind_thr_sign", "util_alt", "util_par", "util_lv",
                       "n_par", "n_cov", "n_alt"))
  for (name in setdiff(names(plan), "ind_thr_sign")) expect_type(plan[[name]], "integer")
  # The counts that size the engine: the plan is C's final input.
  expect_identical(c(plan$n_par, plan$n_cov, plan$n_alt), c(nrow(model$params), 0L, 0L))
  expect_type(plan$ind_thr_sign, "double")
  expect_length(plan$lv_cov_col, 0L)
  expect_length(plan$ind_thr_par, 0L)
  expect_identical(plan$ind_ncat, c(0L, 0L))
  expect_length(model$threshold_sets, 0L)
  expect_equal(model$covariates, character(0))
})

test_that("utilities that can shift every alternative alike are refused, naming the terms", {
  model_with <- function(utility, latent = "att =~ q1 + q2 + q3", ...) {
    iclv_model(latent, utility = utility, choice = "mode", ...)
  }
  # a constant on every alternative
  expect_error(model_with(list(car = ~ asc_car + b_cost * cost_car,
                               train = ~ asc_train + b_cost * cost_train,
                               bus = ~ asc_bus + b_cost * cost_bus)),
               paste0("the utilities are not identified: `asc_car`, `asc_train`, `asc_bus` together ",
                      "can add the same amount to the utility of every alternative, and only ",
                      "differences between utilities matter; remove one such term, e.g. `asc_bus` ",
                      "from the utility of `bus`."), fixed = TRUE)
  # one constant shared by every alternative
  expect_error(model_with(list(car = ~ asc + b_cost * cost_car, bus = ~ asc + b_cost * cost_bus)),
               "`asc` adds the same amount to the utility of every alternative", fixed = TRUE)
  # the same `lambda * att` in every utility
  expect_error(model_with(list(car = ~ asc_car + b_cost * cost_car + lambda * att,
                               train = ~ asc_train + b_cost * cost_train + lambda * att,
                               bus = ~ b_cost * cost_bus + lambda * att)),
               paste0("the utilities are not identified: `lambda * att` adds the same amount to the ",
                      "utility of every alternative, and only differences between utilities matter; ",
                      "remove one such term, e.g. `lambda * att` from the utility of `bus`."),
               fixed = TRUE)
  # a latent variable with its own coefficient in every utility, and a
  # person-level column with its own coefficient in every utility
  expect_error(model_with(list(car = ~ l_car * att, bus = ~ l_bus * att)),
               "`l_car * att`, `l_bus * att` together can add", fixed = TRUE)
  expect_error(model_with(list(car = ~ b1 * income, bus = ~ b2 * income)),
               "`b1 * income`, `b2 * income` together can add", fixed = TRUE)

  # what the messages ask for is accepted: a constant left out, the latent
  # variable out of one utility, a coefficient fixed, or an empty utility
  expect_s3_class(model_with(list(car = ~ asc_car + b_cost * cost_car + lambda * att,
                                  train = ~ asc_train + b_cost * cost_train + lambda * att,
                                  bus = ~ b_cost * cost_bus)), "iclv_model")
  expect_s3_class(model_with(list(car = ~ asc_car + b1 * income, bus = ~ asc_bus + b2 * income),
                             fixed = c(asc_bus = 0, b2 = 0)), "iclv_model")
  expect_s3_class(model_with(list(car = ~ asc_car, train = ~ asc_train, walk = ~ 0)), "iclv_model")
  # a coefficient that also multiplies an attribute is not a pure shift
  expect_s3_class(model_with(list(car = ~ b * att + b * cost_car, bus = ~ b * att)), "iclv_model")
  # different data in each utility are not a shift
  expect_s3_class(model_with(list(car = ~ b * cost_car, bus = ~ b * cost_bus)), "iclv_model")
})

test_that("a free latent intercept that the utilities' constants absorb is refused", {
  utility <- list(car = ~ asc_car + b_cost * cost_car + lambda * att,
                  train = ~ asc_train + b_cost * cost_train,
                  bus = ~ b_cost * cost_bus)
  expect_error(iclv_model("att =~ q1 + q2 + q3; att ~ 1", utility = utility, choice = "mode"),
               paste0("the intercept of latent variable 'att' ('att ~ 1') is not identified: none of ",
                      "its indicators has a fixed location, and in the utilities the other terms ",
                      "absorb its effect (`lambda * att`); remove 'att ~ 1', or fix an indicator's ",
                      "intercept and one of its thresholds."), fixed = TRUE)
  # an interaction is absorbed by the coefficient of the same attribute
  expect_error(iclv_model("att =~ q1 + q2 + q3; att ~ 1", choice = "mode",
                          utility = list(car = ~ b_cost * cost_car + g * att * cost_car, bus = ~ 0)),
               "absorb its effect (`g * att * cost_car`)", fixed = TRUE)
  # pinned by the measurement part: a fixed intercept and a fixed threshold
  expect_s3_class(iclv_model("att =~ q1 + q2 + q3; att ~ 1; q1 | 0*t1 + t2 + t3 + t4",
                             utility = utility, choice = "mode"), "iclv_model")
  # pinned by the utilities: `car` has no constant that could absorb it
  utility$car <- ~ b_cost * cost_car + lambda * att
  expect_s3_class(iclv_model("att =~ q1 + q2 + q3; att ~ 1", utility = utility, choice = "mode"),
                  "iclv_model")
})
