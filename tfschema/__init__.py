"""Terraform files checked against the providers' own schemas, offline.

The schemas come from the cdktf provider packages on npm: their jsii manifest (`.jsii`) is generated from the
provider's schema and names every resource, data source, argument and block, and which are required.
`python -m tfschema --fetch` brings the pinned packages into a git-ignored cache once; `python -m tfschema`
then checks infra/ and each of infra/examples/* with no network.
"""
