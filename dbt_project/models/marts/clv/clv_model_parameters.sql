-- Fitted CLV model parameters (BG/NBD: r, alpha, a, b; Gamma-Gamma: p, q, gamma) with the
-- log-likelihood and the number of customers fitted, for the profiling information of Art. 15(1)(h).
select
    model,
    parameter,
    value
from {{ ref('int_clv_parameters_fitted') }}
