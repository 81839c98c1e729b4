# R references for median survival with its confidence interval, as print(survfit(...)) gives
# them (survival 3.5-3 from Debian). Run from this folder: Rscript median_survival.R.
# Writes median_cases.csv (time, status, group per case) and median_survival.csv
# (per case, group and conf.type: median, lower and upper limit; NA = not reached).
suppressPackageStartupMessages(library(survival))
cases <- list()
lung2 <- lung[, c("time", "status")]
cases$lung_sex <- data.frame(time = lung$time, status = lung$status - 1, group = ifelse(lung$sex == 1, "male", "female"))
d <- colon[colon$etype == 2, ]
cases$colon_rx <- data.frame(time = d$time, status = d$status, group = as.character(d$rx))
cases$veteran_trt <- data.frame(time = veteran$time, status = veteran$status, group = paste0("trt", veteran$trt))
# S(t) = 0.5 exactly on an interval: R takes the midpoint to the next drop
cases$half <- data.frame(time = c(1, 2, 3, 4, 5, 6), status = c(1, 1, 1, 1, 1, 1), group = "a")
# not reached (S stays above 0.5), and an upper limit not reached
cases$not_reached <- data.frame(time = c(2, 3, 5, 7, 11, 13, 17, 19, 23, 29), status = c(1, 0, 0, 1, 0, 0, 0, 1, 0, 0),
                                group = "a")
out <- list()
for (name in names(cases)) {
  x <- cases[[name]]
  for (type in c("log", "log-log", "plain")) {
    fit <- survfit(Surv(time, status) ~ group, data = x, conf.type = type)
    tab <- summary(fit)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    groups <- if (is.null(fit$strata)) unique(x$group) else sub("^group=", "", names(fit$strata))
    out[[paste(name, type)]] <- data.frame(case = name, conf_type = type, group = groups, n = tab[, "records"],
                                           events = tab[, "events"], median = tab[, "median"],
                                           lower = tab[, "0.95LCL"], upper = tab[, "0.95UCL"])
  }
}
write.csv(do.call(rbind, lapply(names(cases), function(n) cbind(case = n, cases[[n]]))), "median_cases.csv",
          row.names = FALSE)
write.csv(do.call(rbind, out), "median_survival.csv", row.names = FALSE)
