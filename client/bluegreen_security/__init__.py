"""Security gates over the SAM template: offline transform, IAM policy facts, code calls.

Client-side tooling (never packaged into the layer). `transform` turns template.yaml
into plain CloudFormation without AWS; `calls` finds the AWS calls each function's code
can make; `policies` reads what each function's role grants.
"""
