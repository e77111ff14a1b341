-- Orders, one row per order id (a later export of the same order wins).
with

source as (

    select * from {{ source('shop', 'orders') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by _source_file desc, _source_line desc
        ) as order_rank
    from source

),

renamed as (

    select
        order_id,
        subject_id,
        cast(order_date as date) as order_date,
        cast(amount as {{ type_money() }}) as amount,
        cast(margin as {{ type_money() }}) as margin,
        product_category,
        channel,
        payment_method
    from ranked
    where order_rank = 1

)

select * from renamed
