-- The pyramid summary's shares of subjects and of revenue each add up to 1 over the tiers (when
-- there are subjects, and revenue), so a BI tool can show them as parts of a whole.
select
    sum(share_of_subjects) as subjects_total,
    sum(share_of_revenue) as revenue_total
from {{ ref('customer_pyramid_summary') }}
having (sum(subjects) > 0 and abs(sum(share_of_subjects) - 1) > 0.000001)
    or (sum(revenue_window) > 0 and abs(sum(share_of_revenue) - 1) > 0.000001)
