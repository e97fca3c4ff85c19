{#- Half-width, in NPS points, of the 95% confidence interval of an NPS (docs block
    nps_definition): 1.96 * 100 * sqrt((p + d - (p - d)^2) / n), with p and d the shares of
    promoters and detractors among n responses (variance of the difference of two proportions
    of one multinomial sample, normal approximation). Null when n = 0. -#}
{% macro nps_margin_of_error(promoters, detractors, responses) -%}
    case
        when {{ responses }} > 0
            then 1.96 * 100.0 * sqrt(
                (
                    (cast({{ promoters }} as double) + {{ detractors }}) / {{ responses }}
                    - (
                        (cast({{ promoters }} as double) - {{ detractors }}) / {{ responses }}
                    )
                    * (
                        (cast({{ promoters }} as double) - {{ detractors }}) / {{ responses }}
                    )
                ) / {{ responses }}
            )
    end
{%- endmacro %}
