"""The one part of mlps that imports Ansible: what our controller action plugins share."""
