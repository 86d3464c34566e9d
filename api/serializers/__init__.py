"""What the API answers (output serializers) and what it accepts (input serializers).

Output serializers only read; input serializers only check shapes and types, then the view hands
the values to a service. Front desk and clinical staff get different serializers for patients and
appointments: the front-desk ones have no screening answers and no session records at all.
One module per resource; the views import from the module of the resource they answer for.
"""
