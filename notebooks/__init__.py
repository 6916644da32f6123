"""The workbench's notebooks, shipped inside the package as ``workbench.notebooks`` (see pyproject.toml).

Open them in JupyterLab from here, or with ``workbench explore``; the report and batches find
them with ``importlib.resources`` whether the workbench is installed from a wheel or editable.
"""
