# R references for tied scores, the Lau92 bound and Hosmer-Lemeshow with empty groups.
# Run from this folder: Rscript ties_and_bounds.R (R 4.2, survival 3.5-3, maxstat 0.7-25 and
# jsonlite from Debian). Writes colon_deaths.csv, ties_colon.json, ties_colon_profile.csv,
# lausen92.json, hoslem_cases.csv and hoslem.json beside this script.
suppressPackageStartupMessages({ library(survival); library(maxstat); library(jsonlite) })
wjson <- function(x, name) writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), name)

# ---- colon, deaths (etype 2): models of few discrete covariates, so many patients share
# one covariate pattern and so one linear predictor
d0 <- colon[colon$etype == 2, c("time", "status", "rx", "obstruct", "nodes")]
rownames(d0) <- NULL
write.csv(d0, "colon_deaths.csv", row.names = FALSE)
# time-dependent AUC, timeROC's definition (cases T < t with status 1 weighted by 1 / G(T-),
# controls T > t; G the censoring KM with deaths before censorings at tied times, as prodlim)
Gleft <- function(time, status) {
  ct <- sort(unique(time[status == 0]))
  nrisk <- sapply(ct, function(c) sum(time >= c) - sum(time == c & status == 1))
  ncens <- sapply(ct, function(c) sum(time == c & status == 0))
  S <- cumprod(1 - ncens / nrisk)
  function(tt) c(1, S)[findInterval(tt, ct, left.open = TRUE) + 1]
}
auc_timeroc <- function(t, M, time, status) {
  G <- Gleft(time, status)
  case <- time < t & status == 1; ctrl <- time > t
  w <- 1 / G(time[case])
  num <- sum(w * sapply(M[case], function(x) sum(x > M[ctrl]) + 0.5 * sum(x == M[ctrl])))
  num / (sum(w) * sum(ctrl))
}
times <- c(365, 1095, 1825)
models <- list(rx = c("rx"), obstruct_nodes = c("obstruct", "nodes"))
out <- list()
profiles <- list()
for (name in names(models)) {
  covariates <- models[[name]]
  d <- d0[complete.cases(d0[covariates]), ]
  fit <- coxph(reformulate(covariates, "Surv(time, status)"), data = d, ties = "breslow")
  lp <- unname(predict(fit, type = "lp"))
  patterns <- interaction(d[covariates], drop = TRUE)
  cc <- concordance(fit)   # timewt = "n"; for a coxph fit a higher lp means shorter survival
  # maxstat on the linear predictor; groups lp <= cut (low) vs lp > cut (high)
  m <- maxstat.test(Surv(time, status) ~ lp, data = cbind(d, lp = lp), smethod = "LogRank",
                    pmethod = "Lau92", minprop = 0.1, maxprop = 0.9)
  cut <- unname(m$estimate)
  high <- lp > cut
  sd <- survdiff(Surv(time, status) ~ high, data = d)
  kms <- summary(survfit(Surv(time, status) ~ high, data = d), times = times)
  out[[name]] <- list(
    covariates = covariates, n = nrow(d), events = sum(d$status),
    coef = as.list(coef(fit)), loglik = fit$loglik[2],
    distinct_lp = length(unique(lp)), patterns = nlevels(patterns), largest_pattern = max(table(patterns)),
    concordance = list(C = unname(cc$concordance), se = sqrt(unname(cc$var)),
                       concordant = unname(cc$count["concordant"]), discordant = unname(cc$count["discordant"]),
                       tied_x = unname(cc$count["tied.x"])),
    maxstat = list(cutpoint = cut, statistic = unname(m$statistic), p_Lau92 = m$p.value,
                   candidates = length(m$cuts), n_low = sum(!high), n_high = sum(high)),
    survdiff_chisq = sd$chisq,
    km = list(times = times, high = as.character(kms$strata) == "high=TRUE", surv = kms$surv, n_risk = kms$n.risk),
    auc = list(times = times, auc = sapply(times, auc_timeroc, M = lp, time = d$time, status = d$status)))
  profiles[[name]] <- data.frame(model = name, cut = m$cuts, stat = m$stats)
}
wjson(out, "ties_colon.json")
write.csv(do.call(rbind, profiles), "ties_colon_profile.csv", row.names = FALSE)

# ---- Lau92: maxstat's pLausen92 returns 1 below b = 1
vet <- veteran
mv <- maxstat.test(Surv(time, status) ~ diagtime, data = vet, smethod = "LogRank", pmethod = "Lau92",
                   minprop = 0.1, maxprop = 0.9)
b <- c(0.5, 0.8, 0.99, 1, 1.2, 1.5, 2, 2.5, 3, 4)
wjson(list(veteran_diagtime = list(statistic = unname(mv$statistic), p_Lau92 = mv$p.value),
           grid = list(b = b, p = sapply(b, maxstat:::pLausen92, minprop = 0.1, maxprop = 0.9),
                       p_minprop_0.2_maxprop_0.7 = sapply(b, maxstat:::pLausen92, minprop = 0.2, maxprop = 0.7))),
      "lausen92.json")

# ---- Hosmer-Lemeshow: ResourceSelection::hoslem.test's algorithm (not in Debian; its code)
hoslem <- function(y, yhat, g = 10) {
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1 / g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - y, y1 = y) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2 / expected)
  formed <- nlevels(cutyhat)
  list(chisq = chisq, df_0.3_5 = g - 2, df_0.3_6 = formed - 2, p_0.3_6 = 1 - pchisq(chisq, formed - 2),
       groups = formed, empty = sum(table(cutyhat) == 0), n = as.vector(table(cutyhat)))
}
set.seed(7)
x <- rnorm(300)
smooth <- plogis(-0.5 + 0.8 * x)
# eight distinct probabilities (three binary factors): tied quantiles merge breaks, 8 groups
f <- expand.grid(a = 0:1, b = 0:1, c = 0:1)
k <- sample(rep(1:8, c(60, 50, 40, 35, 40, 30, 25, 20)))
merged <- plogis(-1 + 0.9 * f$a[k] + 0.6 * f$b[k] + 0.4 * f$c[k])
# eight distinct probabilities in runs whose sizes put an interpolated quantile just above a
# tied one: 9 intervals, 2 of them with no patient (the statistic is then NaN)
empty <- rep(c(0.08, 0.12, 0.17, 0.23, 0.3, 0.38, 0.47, 0.56), c(21, 27, 19, 27, 16, 21, 13, 14))
cases <- rbind(data.frame(case = "smooth", p = smooth), data.frame(case = "merged", p = merged),
               data.frame(case = "empty", p = empty))
cases$y <- rbinom(nrow(cases), 1, cases$p)
write.csv(cases, "hoslem_cases.csv", row.names = FALSE)
wjson(lapply(split(cases, factor(cases$case, unique(cases$case))), function(d) hoslem(d$y, d$p)), "hoslem.json")
